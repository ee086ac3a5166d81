// The admin client config talosctl reads (~/.talos/config), in the format of
// siderolabs/talos pkg/machinery/client/config: one context named after the
// cluster, the control-plane endpoints, and base64 PEM ca/crt/key. The admin
// certificate is minted from the OS CA as `talosctl gen config` mints it:
// Ed25519, O=os:admin, ExtKeyUsage clientAuth only, valid one year.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Inventory } from '../inventory/types.js';
import type { Logger } from '../log.js';
import { newClientCert } from './pki.js';
import { b64, loadSecrets, unb64, writeSecretFile, type SecretsBundle } from './secrets.js';
import type { AdminIdentity } from './credentials.js';

export const ADMIN_ROLE = 'os:admin';

export interface AdminCredentials {
  /** PEM of the OS CA certificate: the trust root for the nodes' apid. */
  caPem: string;
  /** PEM of the admin client certificate. */
  certPem: string;
  /** PEM of its Ed25519 private key (ED25519 PRIVATE KEY label, as talosctl writes it). */
  keyPem: string;
  /** The same key labelled PRIVATE KEY (PKCS#8), which node:tls and OpenSSL read directly. */
  tlsKeyPem: string;
}

/** Mints an admin client certificate for mTLS with the Talos API. Each call mints a new one. */
export async function adminCredentials(secrets: SecretsBundle, now = new Date()): Promise<AdminCredentials> {
  const os = { crt: unb64(secrets.certs.os.crt), key: unb64(secrets.certs.os.key) };
  const cert = await newClientCert(os, [ADMIN_ROLE], now);
  return { caPem: os.crt, certPem: cert.crt, keyPem: cert.key, tlsKeyPem: cert.key.replaceAll('ED25519 PRIVATE KEY-----', 'PRIVATE KEY-----') };
}

/** adminCredentials() for the bundle in DATA_DIR/secrets.yaml; throws "run rackboot init" when there is none. */
export async function loadAdminCredentials(dataDir: string, now = new Date()): Promise<AdminCredentials> {
  return adminCredentials(loadSecrets(dataDir), now);
}

/** talosctl's endpoints: the control planes' addresses, else the control-plane endpoint's host. */
export function controlPlaneEndpoints(inv: Inventory): string[] {
  const ips = inv.nodes.filter((n) => n.role === 'controlplane' && n.ip).map((n) => n.ip!);
  return ips.length > 0 ? ips : [new URL(inv.cluster.controlPlaneEndpoint).hostname];
}

export function talosconfigYaml(contextName: string, endpoints: string[], creds: AdminCredentials): string {
  const doc = {
    context: contextName,
    contexts: {
      [contextName]: { endpoints, ca: b64(creds.caPem), crt: b64(creds.certPem), key: b64(creds.keyPem) },
    },
  };
  return stringify(doc, { indent: 4, indentSeq: true, lineWidth: 0 });
}

export async function renderTalosconfig(inv: Inventory, secrets: SecretsBundle, now = new Date()): Promise<string> {
  return talosconfigYaml(inv.cluster.name, controlPlaneEndpoints(inv), await adminCredentials(secrets, now));
}

/** Writes the talosconfig mode 0600, replacing any earlier one atomically. */
export async function writeTalosconfig(file: string, inv: Inventory, secrets: SecretsBundle, log?: Logger): Promise<void> {
  writeSecretFile(file, await renderTalosconfig(inv, secrets));
  log?.info({ file, context: inv.cluster.name }, 'talosconfig written (mode 0600)');
}

// Reading it back: the Talos API client takes the current context's ca, crt and key.
export function talosconfigPath(dataDir: string): string {
  return join(dataDir, 'talosconfig');
}

interface Talosconfig {
  context?: string;
  contexts?: Record<string, { ca?: string; crt?: string; key?: string }>;
}

export function parseTalosconfig(text: string, source = 'talosconfig'): AdminIdentity {
  const doc = parse(text) as Talosconfig | null;
  const name = doc?.context;
  const ctx = name ? doc?.contexts?.[name] : undefined;
  if (!ctx) throw new Error(`${source}: no current context${name ? ` ${JSON.stringify(name)}` : ''}`);
  const field = (k: 'ca' | 'crt' | 'key') => {
    const v = ctx[k];
    if (typeof v !== 'string' || v === '') throw new Error(`${source}: context ${name} has no ${k}`);
    return Buffer.from(v, 'base64').toString('utf8');
  };
  // talosctl's ED25519 PRIVATE KEY label is PKCS#8 under another name; node:tls only reads PRIVATE KEY.
  return { ca: field('ca'), crt: field('crt'), key: field('key').replaceAll('ED25519 PRIVATE KEY-----', 'PRIVATE KEY-----') };
}

export function loadAdminIdentity(file: string): AdminIdentity {
  return parseTalosconfig(readFileSync(file, 'utf8'), file);
}
