import { X509Certificate } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { adminCredentials, loadAdminCredentials, renderTalosconfig, writeTalosconfig } from '../../src/talos/talosconfig.js';
import { initSecrets } from '../../src/talos/secrets.js';
import { parsePrivateKeyPem } from '../../src/talos/pki.js';
import { unb64, type SecretsBundle } from '../../src/talos/secrets.js';
import { exampleInventory, testSecrets } from './config-fixtures.js';

describe('talosconfig', () => {
  let secrets: SecretsBundle;
  let dir: string;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  beforeAll(async () => {
    secrets = await testSecrets();
    dir = mkdtempSync(join(tmpdir(), 'rb-talosconfig-'));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has talosctl format: context named after the cluster, control-plane endpoints, base64 PEM ca/crt/key', async () => {
    const text = await renderTalosconfig(exampleInventory(), secrets, now);
    const doc = parse(text);
    expect(Object.keys(doc)).toEqual(['context', 'contexts']);
    expect(doc.context).toBe('rack1');
    expect(Object.keys(doc.contexts)).toEqual(['rack1']);
    const ctx = doc.contexts.rack1;
    expect(Object.keys(ctx)).toEqual(['endpoints', 'ca', 'crt', 'key']);
    expect(ctx.endpoints).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.13']);
    expect(ctx.ca).toBe(secrets.certs.os.crt);
    expect(unb64(ctx.crt)).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(unb64(ctx.key)).toMatch(/^-----BEGIN ED25519 PRIVATE KEY-----\n/);
    expect(text).toMatch(/^context: rack1\ncontexts:\n {4}rack1:\n {8}endpoints:\n {12}- 10\.77\.0\.11\n/);
  });

  it('admin cert: Ed25519, O=os:admin, ExtKeyUsage exactly clientAuth, signed by the OS CA, one year', async () => {
    const creds = await adminCredentials(secrets, now);
    const cert = new X509Certificate(creds.certPem);
    const ca = new X509Certificate(creds.caPem);
    expect(cert.subject).toBe('O=os:admin');
    expect(cert.issuer).toBe('O=talos');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // node:crypto's keyUsage is the ExtKeyUsage list
    expect(cert.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(parsePrivateKeyPem(creds.keyPem))).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime());
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 365 * 24 * 3600 * 1000);

    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: creds.certPem, encoding: 'utf8' });
    expect(text).toContain('Signature Algorithm: ED25519');
    expect(text).toMatch(/Subject: O = os:admin\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).toContain('X509v3 Authority Key Identifier');
  });

  it('openssl verify accepts the admin cert against the OS CA, and rejects it against another CA', async () => {
    const creds = await adminCredentials(secrets, now);
    const caFile = join(dir, 'os-ca.crt');
    const certFile = join(dir, 'admin.crt');
    writeFileSync(caFile, creds.caPem);
    writeFileSync(certFile, creds.certPem);
    const out = execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', caFile, certFile], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${certFile}: OK`);
    const otherCa = join(dir, 'etcd-ca.crt');
    writeFileSync(otherCa, unb64(secrets.certs.etcd.crt));
    expect(() => execFileSync('openssl', ['verify', '-CAfile', otherCa, certFile], { encoding: 'utf8', stdio: 'pipe' })).toThrow();
  });

  it('the admin credentials complete a real mTLS handshake (TLS 1.2+, ALPN h2) on loopback with a server that trusts only the OS CA', async () => {
    const creds = await adminCredentials(secrets, now);
    // The etcd CA certificate doubles as a server certificate here (it carries serverAuth); the client pins it as its root.
    const serverCert = unb64(secrets.certs.etcd.crt);
    const server = createServer({ cert: serverCert, key: unb64(secrets.certs.etcd.key), ca: creds.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ALPNProtocols: ['h2'] });
    const peer = new Promise<{ authorized: boolean; subject: string | undefined }>((resolve, reject) => {
      server.on('secureConnection', (s: TLSSocket) => {
        resolve({ authorized: s.authorized, subject: s.getPeerX509Certificate()?.subject });
        s.end();
      });
      server.on('tlsClientError', reject);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const client = connect({ host: '127.0.0.1', port, cert: creds.certPem, key: creds.tlsKeyPem, ca: serverCert, checkServerIdentity: () => undefined, minVersion: 'TLSv1.2', ALPNProtocols: ['h2'] });
      await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
      expect(client.alpnProtocol).toBe('h2');
      // In TLS 1.3 the server checks the client certificate after the client considers itself connected.
      expect(await peer).toEqual({ authorized: true, subject: 'O=os:admin' });
      client.destroy();
    } finally {
      server.close();
    }
  });

  it('is written mode 0600 and replaced atomically', async () => {
    const file = join(dir, 'talosconfig');
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeTalosconfig(file, exampleInventory(), secrets);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(file, 'utf8')).context).toBe('rack1');
  });

  it('loadAdminCredentials reads DATA_DIR/secrets.yaml, or says to run init', async () => {
    await expect(loadAdminCredentials(join(dir, 'empty'))).rejects.toThrow(/run rackboot init/);
    await initSecrets(join(dir, 'with-secrets'));
    const creds = await loadAdminCredentials(join(dir, 'with-secrets'));
    expect(new X509Certificate(creds.certPem).checkIssued(new X509Certificate(creds.caPem))).toBe(true);
  }, 60_000);

  it('falls back to the control-plane endpoint host when no control plane has an address', async () => {
    const inv = exampleInventory();
    inv.nodes = inv.nodes.map((n) => ({ ...n, ip: undefined }));
    expect(parse(await renderTalosconfig(inv, secrets, now)).contexts.rack1.endpoints).toEqual(['10.77.0.10']);
  });
});
