import { createPrivateKey, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { initSecrets, loadSecrets, parseSecrets, TOKEN_PATTERN, unb64, type SecretsBundle } from '../../src/talos/secrets.js';
import { parsePrivateKeyPem } from '../../src/talos/pki.js';

const openssl = (args: string[], input: string) => execFileSync('openssl', args, { input, encoding: 'utf8' });
const TEN_YEARS_MS = 87600 * 3600 * 1000;

describe('rackboot init: secrets bundle', () => {
  let dir: string;
  let bundle: SecretsBundle;
  let text: string;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-secrets-'));
    const r = await initSecrets(join(dir, 'data'), { now });
    expect(r.created).toBe(true);
    text = readFileSync(join(dir, 'data', 'secrets.yaml'), 'utf8');
    bundle = loadSecrets(join(dir, 'data'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is written mode 0600', () => {
    expect(statSync(join(dir, 'data', 'secrets.yaml')).mode & 0o777).toBe(0o600);
  });

  it('has the talosctl gen secrets shape and key order', () => {
    const doc = parse(text);
    expect(Object.keys(doc)).toEqual(['cluster', 'secrets', 'trustdinfo', 'certs']);
    expect(Object.keys(doc.certs)).toEqual(['etcd', 'k8s', 'k8saggregator', 'k8sserviceaccount', 'os']);
    expect(Object.keys(doc.secrets)).toEqual(['bootstraptoken', 'secretboxencryptionsecret']);
    expect(text).toMatch(/^cluster:\n {4}id: /);
    expect(text).toMatch(/\ncerts:\n {4}etcd:\n {8}crt: LS0tLS1CRUdJTi/);
  });

  it('tokens and base64 secrets', () => {
    expect(bundle.secrets.bootstraptoken).toMatch(TOKEN_PATTERN);
    expect(bundle.trustdinfo.token).toMatch(TOKEN_PATTERN);
    expect(bundle.secrets.bootstraptoken).not.toBe(bundle.trustdinfo.token);
    expect(Buffer.from(bundle.cluster.id, 'base64url')).toHaveLength(32);
    expect(bundle.cluster.id).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(Buffer.from(bundle.cluster.secret, 'base64')).toHaveLength(32);
    expect(Buffer.from(bundle.secrets.secretboxencryptionsecret!, 'base64')).toHaveLength(32);
  });

  const cas = [
    { path: 'os', subject: 'O=talos', keyType: 'ed25519', keyLabel: 'ED25519 PRIVATE KEY', sig: 'ED25519' },
    { path: 'etcd', subject: 'O=etcd', keyType: 'ec', keyLabel: 'EC PRIVATE KEY', sig: 'ecdsa-with-SHA256' },
    { path: 'k8s', subject: 'O=kubernetes', keyType: 'ec', keyLabel: 'EC PRIVATE KEY', sig: 'ecdsa-with-SHA256' },
    { path: 'k8saggregator', subject: 'CN=front-proxy', keyType: 'ec', keyLabel: 'EC PRIVATE KEY', sig: 'ecdsa-with-SHA256' },
  ] as const;

  for (const ca of cas) {
    it(`${ca.path} CA: node:crypto view`, () => {
      const pair = bundle.certs[ca.path];
      const crtPem = unb64(pair.crt);
      const keyPem = unb64(pair.key);
      expect(crtPem.startsWith('-----BEGIN CERTIFICATE-----\n')).toBe(true);
      expect(keyPem.startsWith(`-----BEGIN ${ca.keyLabel}-----\n`)).toBe(true);
      const cert = new X509Certificate(crtPem);
      expect(cert.subject).toBe(ca.subject.replace(', ', '\n'));
      expect(cert.issuer).toBe(cert.subject);
      expect(cert.ca).toBe(true);
      expect(cert.publicKey.asymmetricKeyType).toBe(ca.keyType);
      if (ca.keyType === 'ec') expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(new Date(cert.validFrom).getTime()).toBe(now.getTime());
      expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + TEN_YEARS_MS);
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // node reports ExtKeyUsage here
      expect(cert.verify(cert.publicKey)).toBe(true);
      const key = parsePrivateKeyPem(keyPem);
      expect(key.asymmetricKeyType).toBe(ca.keyType);
      expect(cert.checkPrivateKey(key)).toBe(true);
    });

    it(`${ca.path} CA: openssl view`, () => {
      const out = openssl(['x509', '-noout', '-text'], unb64(bundle.certs[ca.path].crt));
      expect(out).toContain(`Signature Algorithm: ${ca.sig}`);
      expect(out).toMatch(new RegExp(`Subject: ${ca.subject.replace('=', ' = ')}\\n`));
      expect(out).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign\n/);
      expect(out).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
      expect(out).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
      expect(out).toContain('X509v3 Subject Key Identifier');
      if (ca.keyType === 'ec') expect(out).toContain('NIST CURVE: P-256');
      // openssl reads the key with its own PEM label (ED25519 PRIVATE KEY needs relabelling, as Go's reader does).
      const keyPem = unb64(bundle.certs[ca.path].key).replaceAll('ED25519 PRIVATE KEY', 'PRIVATE KEY');
      const pubFromKey = openssl(['pkey', '-pubout'], keyPem);
      const pubFromCert = openssl(['x509', '-noout', '-pubkey'], unb64(bundle.certs[ca.path].crt));
      expect(pubFromKey).toBe(pubFromCert);
    });
  }

  it('service-account key is RSA-4096 (PKCS#1 PEM)', () => {
    const pem = unb64(bundle.certs.k8sserviceaccount.key);
    expect(pem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n')).toBe(true);
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(openssl(['rsa', '-noout', '-text'], pem)).toMatch(/Private-Key: \(4096 bit, 2 primes\)/);
  });

  it('never overwrites: a second init leaves the file byte for byte', async () => {
    const again = await initSecrets(join(dir, 'data'));
    expect(again.created).toBe(false);
    expect(readFileSync(join(dir, 'data', 'secrets.yaml'), 'utf8')).toBe(text);
  });

  it('two inits racing: exactly one bundle is written, the other run reports it and writes nothing', async () => {
    const racing = join(dir, 'race');
    const [a, b] = await Promise.all([initSecrets(racing), initSecrets(racing)]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    const kept = readFileSync(join(racing, 'secrets.yaml'), 'utf8');
    expect(() => parseSecrets(kept)).not.toThrow();
    expect(readdirSync(racing)).toEqual(['secrets.yaml']); // no temp files left behind
  }, 60_000);

  it('--import adopts an existing bundle unchanged, mode 0600', async () => {
    const src = join(dir, 'from-talosctl.yaml');
    writeFileSync(src, text, { mode: 0o644 });
    const r = await initSecrets(join(dir, 'imported'), { importFrom: src });
    expect(r.created).toBe(true);
    expect(readFileSync(join(dir, 'imported', 'secrets.yaml'), 'utf8')).toBe(text);
    expect(statSync(join(dir, 'imported', 'secrets.yaml')).mode & 0o777).toBe(0o600);
  });

  it('--import refuses a broken bundle and names the bad field, not its value', async () => {
    const broken = text.replace(/bootstraptoken: \S+/, 'bootstraptoken: NOT-A-TOKEN');
    const src = join(dir, 'broken.yaml');
    writeFileSync(src, broken);
    await expect(initSecrets(join(dir, 'refused'), { importFrom: src })).rejects.toThrow(/secrets.bootstraptoken does not match/);
    expect(() => parseSecrets('cluster: {}\n')).toThrow(/cluster.id is required/);
  });
});
