// Per-node hardware facts (src/talos/hardware.ts), kept with when and from
// where they were read. A new read replaces the old: the page shows what the
// machine looked like the last time it was in maintenance mode.
//
// Given the daemon's Store, the rows are where it keeps its nodes (the shared
// database with scaleOut.postgres, pg/pg-node-rows.ts): the leader reads a
// node's disks and resolves its install-disk selector, and every appliance
// that renders the node's config must render that disk. Given a bare SQLite
// handle, that file's rows, as before.
import type Database from 'better-sqlite3';
import type { HardwareFacts } from '../talos/hardware.js';
import { nodeRowsOf } from './pg/pg-node-rows.js';
import { Store } from './store.js';

export interface HardwareRecord {
  node: string; mac: string; endpoint: string; readAt: number; facts: HardwareFacts;
  /** Where the inventory's install-disk selector pointed the last time it was resolved. */
  installDisk?: { path: string; at: number } | null;
}

export function recordHardware(where: Store | Database.Database, r: HardwareRecord): void {
  if (where instanceof Store) {
    nodeRowsOf(where, 'node_hardware').upsert(r.node, { mac: r.mac, endpoint: r.endpoint, facts_json: JSON.stringify(r.facts), read_at: r.readAt });
    return;
  }
  where.prepare(
    `INSERT INTO node_hardware (node, mac, endpoint, facts_json, read_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, endpoint=excluded.endpoint, facts_json=excluded.facts_json, read_at=excluded.read_at`,
  ).run(r.node, r.mac, r.endpoint, JSON.stringify(r.facts), r.readAt);
}

export function nodeHardware(where: Store | Database.Database, node: string): HardwareRecord | undefined {
  const row = where instanceof Store
    ? nodeRowsOf(where, 'node_hardware').get(node)
    : where.prepare('SELECT * FROM node_hardware WHERE node = ?').get(node) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    node: row.node as string, mac: row.mac as string, endpoint: row.endpoint as string, readAt: Number(row.read_at), facts: JSON.parse(row.facts_json as string) as HardwareFacts,
    installDisk: row.install_disk ? { path: row.install_disk as string, at: Number(row.install_disk_at) } : null,
  };
}

/** Records the disk a selector resolved to; the facts row it was resolved from must exist. */
export function recordInstallDisk(where: Store | Database.Database, node: string, path: string, at: number): void {
  if (where instanceof Store) return nodeRowsOf(where, 'node_hardware').update(node, { install_disk: path, install_disk_at: at });
  where.prepare('UPDATE node_hardware SET install_disk = ?, install_disk_at = ? WHERE node = ?').run(path, at, node);
}
