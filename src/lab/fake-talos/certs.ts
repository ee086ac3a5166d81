// Lab only: server certificates for a fake Talos node. A real node's apid
// gets its certificate from trustd; the lab's fake has no trustd, so it mints
// one from the cluster's OS CA in DATA_DIR/secrets.yaml, which in the lab is
// ours. Product code never signs server certificates.
import { webcrypto } from 'node:crypto';
import '../../talos/reflect-metadata.js';
import * as x509 from '@peculiar/x509';
import { parsePrivateKeyPem } from '../../talos/pki.js';
import { unb64, type SecretsBundle } from '../../talos/secrets.js';
import type { CertAndKey } from './cluster.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const ED25519 = { name: 'Ed25519' } as const;
const validity = () => ({ notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 7 * 86_400_000) });
const serial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1');

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as unknown as webcrypto.CryptoKeyPair;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', k), 'PRIVATE KEY');
}

const sans = (ips: string[]) => new x509.SubjectAlternativeNameExtension(ips.map((ip) => ({ type: 'ip' as const, value: ip })));

/** Self-signed, as Talos serves in maintenance mode. */
export async function maintenanceCert(ips: string[]): Promise<CertAndKey> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: 'CN=maintenance-service.talos.dev', keys, signingAlgorithm: ED25519, ...validity(),
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]), sans(ips)],
  });
  return { crt: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** A server certificate for `ips`, signed by the bundle's OS CA (Ed25519 in bundles rackboot or talosctl make). */
export async function osCaServerCert(secrets: SecretsBundle, ips: string[]): Promise<CertAndKey> {
  const caCert = new x509.X509Certificate(unb64(secrets.certs.os.crt));
  const caKey = parsePrivateKeyPem(unb64(secrets.certs.os.key));
  if (caKey.asymmetricKeyType !== 'ed25519') throw new Error(`OS CA key is ${caKey.asymmetricKeyType}; the lab fake signs with Ed25519 only`);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', caKey.export({ format: 'der', type: 'pkcs8' }), ED25519, false, ['sign']);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: `CN=${ips[0] ?? 'talos'}`, issuer: caCert.subject, publicKey: keys.publicKey, signingKey,
    signingAlgorithm: ED25519, ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      sans(ips),
    ],
  });
  return { crt: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}
