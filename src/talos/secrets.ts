// The cluster's one secrets bundle, data/secrets.yaml, in the shape
// `talosctl gen secrets` writes (siderolabs/talos
// pkg/machinery/config/generate/secrets/bundle.go and secrets.go, encoded by
// Go yaml with lower-cased field names and base64 PEM blobs), so a bundle
// moves freely between rackboot and talosctl in both directions. It is
// created once and never overwritten; nothing here logs its contents.
import { randomBytes, randomInt, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Logger } from '../log.js';
import { newCa, newServiceAccountKey, parsePrivateKeyPem, type CertAndKeyPem } from './pki.js';

/** Certificates and keys as they sit in the file: base64 of the PEM text. */
export interface EncodedPair { crt: string; key: string }

export interface SecretsBundle {
  cluster: { id: string; secret: string };
  secrets: { bootstraptoken: string; secretboxencryptionsecret?: string; aescbcencryptionsecret?: string };
  trustdinfo: { token: string };
  certs: {
    etcd: EncodedPair;
    k8s: EncodedPair;
    k8saggregator: EncodedPair;
    k8sserviceaccount: { key: string };
    os: EncodedPair;
  };
}

export const SECRETS_FILE = 'secrets.yaml';
export const TOKEN_PATTERN = /^[0-9a-z]{6}\.[0-9a-z]{16}$/;
const TOKEN_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export function secretsPath(dataDir: string): string {
  return join(dataDir, SECRETS_FILE);
}

/** A token like genToken(6, 16) upstream: [0-9a-z]{6}.[0-9a-z]{16}. */
export function newToken(): string {
  const part = (n: number) => Array.from({ length: n }, () => TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)]).join('');
  return `${part(6)}.${part(16)}`;
}

export const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');
export const unb64 = (blob: string): string => Buffer.from(blob, 'base64').toString('utf8');
const encode = (p: CertAndKeyPem): EncodedPair => ({ crt: b64(p.crt), key: b64(p.key) });

/** Generates a fresh bundle, as `talosctl gen secrets` does for Talos >= 1.7. */
export async function generateSecrets(now = new Date()): Promise<SecretsBundle> {
  const [etcd, k8s, aggregator, os] = await Promise.all([
    newCa('ecdsa-p256', 'O=etcd', now),
    newCa('ecdsa-p256', 'O=kubernetes', now),
    newCa('ecdsa-p256', 'CN=front-proxy', now),
    newCa('ed25519', 'O=talos', now),
  ]);
  return {
    // cluster.id uses base64.URLEncoding upstream, cluster.secret StdEncoding; both 32 random bytes.
    cluster: { id: randomBytes(32).toString('base64url') + '=', secret: randomBytes(32).toString('base64') },
    secrets: { bootstraptoken: newToken(), secretboxencryptionsecret: randomBytes(32).toString('base64') },
    trustdinfo: { token: newToken() },
    certs: {
      etcd: encode(etcd),
      k8s: encode(k8s),
      k8saggregator: encode(aggregator),
      k8sserviceaccount: { key: b64(newServiceAccountKey()) },
      os: encode(os),
    },
  };
}

export function secretsYaml(bundle: SecretsBundle): string {
  return stringify(bundle, { indent: 4, indentSeq: true, lineWidth: 0 });
}

/** Parses and checks a bundle; every problem is named by its YAML path, never by its value. */
export function parseSecrets(text: string): SecretsBundle {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`secrets file is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const problems: string[] = [];
  const get = (path: string): string | undefined => {
    const v = path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), doc);
    if (typeof v !== 'string' || v === '') {
      problems.push(`${path} is required`);
      return undefined;
    }
    return v;
  };
  const pair = (path: string) => {
    const crt = get(`${path}.crt`);
    const key = get(`${path}.key`);
    if (crt) try { new X509Certificate(unb64(crt)); } catch { problems.push(`${path}.crt is not a base64 PEM certificate`); }
    if (key) try { parsePrivateKeyPem(unb64(key)); } catch { problems.push(`${path}.key is not a base64 PEM private key`); }
  };
  get('cluster.id');
  get('cluster.secret');
  const token = get('secrets.bootstraptoken');
  if (token && !TOKEN_PATTERN.test(token)) problems.push('secrets.bootstraptoken does not match [0-9a-z]{6}.[0-9a-z]{16}');
  const s = (doc as { secrets?: Record<string, unknown> } | null)?.secrets ?? {};
  if (!s.secretboxencryptionsecret && !s.aescbcencryptionsecret) problems.push('one of secrets.secretboxencryptionsecret, secrets.aescbcencryptionsecret is required');
  const trustd = get('trustdinfo.token');
  if (trustd && !TOKEN_PATTERN.test(trustd)) problems.push('trustdinfo.token does not match [0-9a-z]{6}.[0-9a-z]{16}');
  for (const p of ['certs.etcd', 'certs.k8s', 'certs.k8saggregator', 'certs.os']) pair(p);
  const sa = get('certs.k8sserviceaccount.key');
  if (sa) try { parsePrivateKeyPem(unb64(sa)); } catch { problems.push('certs.k8sserviceaccount.key is not a base64 PEM private key'); }
  if (problems.length > 0) throw new Error(`invalid secrets bundle: ${problems.join('; ')}`);
  return doc as SecretsBundle;
}

export function loadSecrets(dataDir: string): SecretsBundle {
  const file = secretsPath(dataDir);
  if (!existsSync(file)) throw new Error(`no secrets bundle at ${file}; run rackboot init`);
  return parseSecrets(readFileSync(file, 'utf8'));
}

/**
 * Writes `text` to `file` with mode 0600 only if `file` does not exist. The
 * content goes to a private temp file first and is then hard-linked into
 * place: link(2) fails on an existing name, so a racing writer or an earlier
 * run is never overwritten and nobody ever sees a half-written file.
 */
export function writeSecretFileOnce(file: string, text: string): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600); // the umask may have narrowed it further, never widened; make it exact
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Writes `text` to `file` mode 0600, replacing it atomically (for derived files such as talosconfig). */
export function writeSecretFile(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export type InitResult = { created: true; file: string } | { created: false; file: string; reason: string };

/** `rackboot init`: creates the bundle once. A second run leaves the file as it is. */
export async function initSecrets(dataDir: string, opts: { importFrom?: string; now?: Date; log?: Logger } = {}): Promise<InitResult> {
  const file = secretsPath(dataDir);
  const result = await createOnce(file, opts);
  // Names and outcomes only: the bundle's contents never reach a log line.
  opts.log?.info({ file: result.file, created: result.created, imported: Boolean(opts.importFrom) }, result.created ? 'secrets bundle written (mode 0600)' : 'secrets bundle left as it was');
  return result;
}

async function createOnce(file: string, opts: { importFrom?: string; now?: Date }): Promise<InitResult> {
  if (existsSync(file)) return { created: false, file, reason: `${file} already exists; it is never overwritten` };
  let text: string;
  if (opts.importFrom) {
    const imported = readFileSync(opts.importFrom, 'utf8');
    parseSecrets(imported); // refuse a broken bundle before adopting it
    text = imported;
  } else {
    text = secretsYaml(await generateSecrets(opts.now));
  }
  return writeSecretFileOnce(file, text) ? { created: true, file } : { created: false, file, reason: `${file} appeared meanwhile; it is never overwritten` };
}
