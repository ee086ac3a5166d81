// What each installed node runs, as rackboot last learnt it: the hash of the
// config it applied and a redacted copy (redact.ts), the installer image and
// Kubernetes version that config names, the Talos version its API reported,
// the mode Talos chose for the last apply, and the config it rejected. The
// clear config is never stored: the store already holds the secrets bundle
// it is rendered from, and that is where it stays.
import { parseAllDocuments } from 'yaml';
import { nodeRowsOf } from '../store/pg/pg-node-rows.js';
import { Store } from '../store/store.js';
import { configSha256, redactConfig } from './redact.js';

export interface AppliedConfig {
  node: string;
  sha256: string | null;
  /** The config with secrets replaced (redact.ts), for a readable diff later. */
  redacted: string | null;
  appliedAt: number | null;
  /** push (first contact), pull (served over HTTP), apply (day 2). */
  via: string | null;
  /** The mode Talos reported for the last apply, and its mode_details. */
  mode: string | null;
  modeDetails: string | null;
  /** machine.install.image of the applied config: factory host/metal-installer/<schematic>:<version>. */
  installerImage: string | null;
  /** The kubelet image tag of the applied config, without the leading v. */
  kubernetesVersion: string | null;
  /** Version.tag the node's API answered with over mTLS. */
  talosVersion: string | null;
  versionSeenAt: number | null;
  rejected: { sha256: string; reason: string; at: number } | null;
}

type Row = Record<string, unknown>;

function toApplied(r: Row): AppliedConfig {
  return {
    node: r.node as string, sha256: r.applied_sha256 as string | null, redacted: r.applied_redacted as string | null,
    appliedAt: r.applied_at as number | null, via: r.applied_via as string | null, mode: r.applied_mode as string | null,
    modeDetails: r.mode_details as string | null, installerImage: r.installer_image as string | null,
    kubernetesVersion: r.kubernetes_version as string | null, talosVersion: r.talos_version as string | null,
    versionSeenAt: r.version_seen_at as number | null,
    rejected: r.rejected_sha256 ? { sha256: r.rejected_sha256 as string, reason: r.rejected_reason as string, at: r.rejected_at as number } : null,
  };
}

/** The installer image and Kubernetes version a config names (undefined where it names none). */
export function configFacts(text: string): { installerImage?: string; kubernetesVersion?: string } {
  for (const d of parseAllDocuments(text)) {
    const doc = d.toJS() as Record<string, any> | null;
    if (doc?.version !== 'v1alpha1') continue;
    const image = doc.machine?.install?.image;
    const kubelet = /:v?([^:@]+)$/.exec(String(doc.machine?.kubelet?.image ?? ''));
    return { installerImage: typeof image === 'string' ? image : undefined, kubernetesVersion: kubelet?.[1] };
  }
  return {};
}

/** The schematic ID and Talos version an installer reference names (…/metal-installer/<schematic>:<version>). */
export function parseInstallerImage(image: string): { schematic: string; version: string } | undefined {
  const m = /\/(?:metal-)?installer\/([0-9a-f]{64}):(v[^@]+)$/.exec(image);
  return m ? { schematic: m[1]!, version: m[2]! } : undefined;
}

/** The node_config rows: with scaleOut.postgres the shared database's, so the leader plans from what any appliance served. */
const rows = (store: Store) => nodeRowsOf(store, 'node_config');

/** Records that `node` took `config`; clears a rejection (the node has moved on). */
export function recordApplied(store: Store, node: string, config: Buffer | string, how: { via: 'push' | 'pull' | 'apply'; mode?: string; modeDetails?: string; at?: number }): void {
  const text = Buffer.isBuffer(config) ? config.toString('utf8') : config;
  // A config that does not parse keeps its hash and no copy: recording must never fail the apply it records.
  let redacted: string | null = null;
  let facts: ReturnType<typeof configFacts> = {};
  try {
    redacted = redactConfig(text);
    facts = configFacts(text);
  } catch { /* not YAML */ }
  rows(store).upsert(node, {
    applied_sha256: configSha256(text), applied_redacted: redacted, applied_at: how.at ?? Date.now(), applied_via: how.via,
    applied_mode: how.mode ?? null, mode_details: how.modeDetails ?? null, installer_image: facts.installerImage ?? null,
    kubernetes_version: facts.kubernetesVersion ?? null, rejected_sha256: null, rejected_reason: null, rejected_at: null,
  });
}

/** Records the Talos version the node's API reported. */
export function recordTalosVersion(store: Store, node: string, tag: string, at = Date.now()): void {
  rows(store).upsert(node, { talos_version: tag, version_seen_at: at });
}

/** Records the installer image a Talos upgrade rebooted the node into (its schematic from now on). */
export function recordInstallerImage(where: Store | Store['db'], node: string, image: string): void {
  if (where instanceof Store) return rows(where).upsert(node, { installer_image: image });
  const db = where;
  db.prepare('INSERT INTO node_config (node) VALUES (?) ON CONFLICT(node) DO NOTHING').run(node);
  db.prepare('UPDATE node_config SET installer_image=? WHERE node=?').run(image, node);
}

/** Records the Kubernetes version a Kubernetes roll moved the node's kubelet to (as configFacts reads it: no leading "v"). */
export function recordKubernetesVersion(where: Store | Store['db'], node: string, version: string): void {
  if (where instanceof Store) return rows(where).upsert(node, { kubernetes_version: version.replace(/^v/, '') });
  const db = where;
  db.prepare('INSERT INTO node_config (node) VALUES (?) ON CONFLICT(node) DO NOTHING').run(node);
  db.prepare('UPDATE node_config SET kubernetes_version=? WHERE node=?').run(version.replace(/^v/, ''), node);
}

/** The schematic ID the node's recorded installer image names; undefined when none is recorded or it names none. */
export function recordedSchematic(where: Store | Store['db'], node: string): string | undefined {
  const row = where instanceof Store ? rows(where).get(node) as { installer_image: string | null } | undefined : where.prepare('SELECT installer_image FROM node_config WHERE node=?').get(node) as { installer_image: string | null } | undefined;
  return row?.installer_image ? parseInstallerImage(row.installer_image)?.schematic : undefined;
}

/** Records that Talos refused the config with this hash; it is not sent again while the desired config hashes the same. */
export function recordRejected(store: Store, node: string, sha256: string, reason: string, at = Date.now()): void {
  rows(store).upsert(node, { rejected_sha256: sha256, rejected_reason: reason, rejected_at: at });
}

/** What rackboot knows `node` runs; undefined before its first recorded config or version. */
export function appliedConfigFor(store: Store, node: string): AppliedConfig | undefined {
  const row = rows(store).get(node);
  return row ? toApplied(row) : undefined;
}
