// A throwaway PKI shaped like a Talos cluster's: an Ed25519 OS CA, admin
// and reader client certs (ExtKeyUsage exactly clientAuth), server certs for
// node addresses, and a second unrelated CA to prove it is refused.
import '../../src/talos/reflect-metadata.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ED25519 = { name: 'Ed25519' } as const;

export interface CertAndKey {
  crt: string;
  key: string;
}

export interface TestPki {
  osCa: CertAndKey;
  admin: CertAndKey;
  reader: CertAndKey;
  /** O=os:admin, but signed by another CA. */
  wrongCaAdmin: CertAndKey;
  wrongCa: CertAndKey;
  /** A server cert signed by the OS CA for these IPs. */
  serverCert(ips: string[]): Promise<CertAndKey>;
  /** A self-signed server cert, like a node in maintenance mode. */
  selfSigned(ips: string[]): Promise<CertAndKey>;
}

interface Signer { cert: x509.X509Certificate; keys: webcrypto.CryptoKeyPair }

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, '0');

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as unknown as webcrypto.CryptoKeyPair;
}

const validity = () => ({ notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) });

async function makeCa(cn: string): Promise<Signer> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(), name: `O=talos, CN=${cn}`, keys, signingAlgorithm: ED25519, ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  return { cert, keys };
}

async function issue(ca: Signer, subject: string, usage: 'client' | 'server', ips: string[] = []): Promise<CertAndKey> {
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
  ];
  if (ips.length) extensions.push(new x509.SubjectAlternativeNameExtension(ips.map((ip) => ({ type: 'ip' as const, value: ip }))));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(), subject, issuer: ca.cert.subject, publicKey: keys.publicKey, signingKey: ca.keys.privateKey,
    signingAlgorithm: ED25519, extensions, ...validity(),
  });
  return { crt: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

async function pair(s: Signer): Promise<CertAndKey> {
  return { crt: s.cert.toString('pem'), key: await keyPem(s.keys.privateKey) };
}

export async function makeTestPki(): Promise<TestPki> {
  const os = await makeCa('os');
  const other = await makeCa('impostor');
  return {
    osCa: await pair(os),
    admin: await issue(os, 'O=os:admin', 'client'),
    reader: await issue(os, 'O=os:reader', 'client'),
    wrongCaAdmin: await issue(other, 'O=os:admin', 'client'),
    wrongCa: await pair(other),
    serverCert: (ips) => issue(os, `CN=${ips[0] ?? 'talos'}`, 'server', ips),
    async selfSigned(ips) {
      const keys = await newKeys();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: nextSerial(), name: 'CN=maintenance-service.talos.dev', keys, signingAlgorithm: ED25519, ...validity(),
        extensions: [
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(ips.map((ip) => ({ type: 'ip' as const, value: ip }))),
        ],
      });
      return { crt: cert.toString('pem'), key: await keyPem(keys.privateKey) };
    },
  };
}
