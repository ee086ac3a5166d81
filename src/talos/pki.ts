// X.509 for the cluster PKI, shaped like siderolabs/talos
// pkg/machinery/config/generate/secrets/ca.go and siderolabs/crypto: CAs are
// self-signed, valid 87600h (10 years) from now, KeyUsage critical
// digitalSignature+keyCertSign, ExtKeyUsage serverAuth+clientAuth,
// BasicConstraints critical CA:TRUE, a 128-bit random serial. Private keys
// use the PEM labels the Go code writes: EC PRIVATE KEY (SEC 1),
// RSA PRIVATE KEY (PKCS#1), ED25519 PRIVATE KEY (PKCS#8 inside).
import { createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import './reflect-metadata.js';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type EcdsaParams = webcrypto.EcdsaParams;

const subtle = webcrypto.subtle;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const CA_VALIDITY_MS = 87600 * 3600 * 1000;
/** constants.TalosAPIDefaultCertificateValidityDuration upstream: one year. */
export const ADMIN_CERT_VALIDITY_MS = 365 * 24 * 3600 * 1000;

export type KeyKind = 'ed25519' | 'ecdsa-p256';

export interface CertAndKeyPem {
  crt: string;
  key: string;
}

const ALGORITHMS: Record<KeyKind, { gen: EcKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams }> = {
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  'ecdsa-p256': { gen: { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
};

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // a positive INTEGER, as Go's rand.Int(2^128) gives
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

/** PEM of a private key in the label and encoding the upstream Go code writes. */
export function privateKeyPem(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return key.export({ format: 'pem', type: 'sec1' }) as string;
    case 'rsa':
      return key.export({ format: 'pem', type: 'pkcs1' }) as string;
    case 'ed25519':
      return (key.export({ format: 'pem', type: 'pkcs8' }) as string).replaceAll('PRIVATE KEY-----', 'ED25519 PRIVATE KEY-----');
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** Reads a private key PEM; the ED25519 label is PKCS#8 under another name. */
export function parsePrivateKeyPem(pem: string): KeyObject {
  return createPrivateKey(pem.replaceAll('ED25519 PRIVATE KEY-----', 'PRIVATE KEY-----'));
}

function kindOf(key: KeyObject): KeyKind {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  throw new Error(`CA key type ${key.asymmetricKeyType} is not supported for signing`);
}

async function toCryptoKey(key: KeyObject): Promise<CryptoKey> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return subtle.importKey('pkcs8', der, ALGORITHMS[kindOf(key)].gen, false, ['sign']);
}

async function exportPem(keys: CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  return privateKeyPem(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** A self-signed CA like NewSelfSignedCertificateAuthority upstream. `name` is an RFC 4514 string, e.g. O=talos. */
export async function newCa(kind: KeyKind, name: string, now: Date): Promise<CertAndKeyPem> {
  const alg = ALGORITHMS[kind];
  const keys = (await subtle.generateKey(alg.gen, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    notBefore: now,
    notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
    signingAlgorithm: alg.sign,
    keys,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { crt: cert.toString('pem') + '\n', key: await exportPem(keys) };
}

/** The Kubernetes service-account signing key: RSA-4096 for Talos >= 1.7. */
export function newServiceAccountKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  return privateKeyPem(privateKey);
}

/**
 * A client certificate for the Talos API, as NewAdminCertificateAndKey
 * upstream: Ed25519 key, subject O=<roles>, KeyUsage digitalSignature,
 * ExtKeyUsage exactly clientAuth, signed by the OS CA.
 */
export async function newClientCert(ca: CertAndKeyPem, roles: string[], now: Date, validityMs = ADMIN_CERT_VALIDITY_MS): Promise<CertAndKeyPem> {
  const caCert = new x509.X509Certificate(ca.crt);
  const caKey = parsePrivateKeyPem(ca.key);
  const keys = (await subtle.generateKey(ALGORITHMS.ed25519.gen, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: roles.map((r) => `O=${r}`).join(', '),
    issuer: caCert.subject,
    notBefore: now,
    notAfter: new Date(now.getTime() + validityMs),
    publicKey: keys.publicKey,
    signingKey: await toCryptoKey(caKey),
    signingAlgorithm: ALGORITHMS[kindOf(caKey)].sign,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false),
    ],
  });
  return { crt: cert.toString('pem') + '\n', key: await exportPem(keys) };
}
