// The admin listener's certificate: the operator's files (http.adminTls), or
// a self-signed one made at first start in <dataDir>/admin-tls (key 0600).
// Its SHA-256 fingerprint is what an operator compares in the browser's
// warning, so it is logged at start and shown by `rackboot doctor`.
import { X509Certificate, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import '../../talos/reflect-metadata.js';
import * as x509 from '@peculiar/x509';
import { splitHostPort, type Settings } from '../../settings/settings.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const VALIDITY_MS = 10 * 365 * 24 * 3600_000;

export interface AdminTlsMaterial {
  cert: string;
  key: string;
  certFile: string;
  /** SHA-256 of the certificate, colon-separated hex as browsers and openssl show it. */
  fingerprint: string;
  /** True when this call made the self-signed certificate. */
  generated: boolean;
}

/** Where the certificate and key are read from (the operator's files or the generated pair). */
export function adminTlsFiles(settings: Settings): { cert: string; key: string; selfSigned: boolean } {
  if (settings.http.adminTls) return { ...settings.http.adminTls, selfSigned: false };
  return { ...selfSignedFiles(settings.dataDir), selfSigned: true };
}

/** Where the self-signed pair lives in a data directory. */
export function selfSignedFiles(dataDir: string): { cert: string; key: string } {
  const dir = join(dataDir, 'admin-tls');
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

export function certFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** Reads the certificate and key, making a self-signed pair first when none is configured or stored. */
export async function adminTlsMaterial(settings: Settings, now = new Date()): Promise<AdminTlsMaterial> {
  const files = adminTlsFiles(settings);
  let generated = false;
  if (files.selfSigned && !(existsSync(files.cert) && existsSync(files.key))) {
    const pair = await selfSigned(settings, now);
    mkdirSync(join(files.key, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(files.key, pair.key, { mode: 0o600 });
    chmodSync(files.key, 0o600);
    writeFileSync(files.cert, pair.cert, { mode: 0o644 });
    generated = true;
  }
  const cert = readFileSync(files.cert, 'utf8');
  const key = readFileSync(files.key, 'utf8');
  return { cert, key, certFile: files.cert, fingerprint: certFingerprint(cert), generated };
}

async function selfSigned(settings: Settings, now: Date): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const host = splitHostPort(settings.http.adminListen).host;
  const names: { type: 'dns' | 'ip'; value: string }[] = [
    { type: 'dns', value: 'localhost' },
    { type: 'dns', value: hostname() },
    { type: 'ip', value: '127.0.0.1' },
    { type: 'ip', value: '::1' },
  ];
  if (isIP(host) && host !== '0.0.0.0' && host !== '::' && !names.some((n) => n.value === host)) names.push({ type: 'ip', value: host });
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=rackboot admin (${hostname()})`,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

/** For `rackboot doctor`: which certificate the admin listener uses and its fingerprint. */
export function adminCertificateFinding(settings: Settings): { level: 'ok' | 'warn' | 'fail'; check: string; detail: string; fix?: string } {
  const files = adminTlsFiles(settings);
  const check = 'admin TLS certificate';
  if (!existsSync(files.cert) || !existsSync(files.key)) {
    return files.selfSigned
      ? { level: 'ok', check, detail: `none yet: rackboot serve makes a self-signed one in ${join(files.cert, '..')} and logs its SHA-256 fingerprint` }
      : { level: 'fail', check, detail: `http.adminTls names ${files.cert} and ${files.key}, and one is missing`, fix: 'put the certificate and key there, or remove http.adminTls to use a self-signed one' };
  }
  try {
    const fingerprint = certFingerprint(readFileSync(files.cert, 'utf8'));
    return { level: 'ok', check, detail: `${files.cert}${files.selfSigned ? ' (self-signed)' : ''} SHA-256 ${fingerprint}` };
  } catch (err) {
    return { level: 'fail', check, detail: `${files.cert}: ${(err as Error).message}`, fix: 'replace it with a PEM certificate' };
  }
}
