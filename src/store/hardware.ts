// Per-node hardware facts (src/talos/hardware.ts), kept with when and from
// where they were read. A new read replaces the old: the page shows what the
// machine looked like the last time it was in maintenance mode.
import type Database from 'better-sqlite3';
import type { HardwareFacts } from '../talos/hardware.js';

export interface HardwareRecord {
  node: string; mac: string; endpoint: string; readAt: number; facts: HardwareFacts;
  /** Where the inventory's install-disk selector pointed the last time it was resolved. */
  installDisk?: { path: string; at: number } | null;
}

export function recordHardware(db: Database.Database, r: HardwareRecord): void {
  db.prepare(
    `INSERT INTO node_hardware (node, mac, endpoint, facts_json, read_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, endpoint=excluded.endpoint, facts_json=excluded.facts_json, read_at=excluded.read_at`,
  ).run(r.node, r.mac, r.endpoint, JSON.stringify(r.facts), r.readAt);
}

export function nodeHardware(db: Database.Database, node: string): HardwareRecord | undefined {
  const row = db.prepare('SELECT * FROM node_hardware WHERE node = ?').get(node) as Record<string, unknown> | undefined;
  if (!row) return undefined;
  return {
    node: row.node as string, mac: row.mac as string, endpoint: row.endpoint as string, readAt: row.read_at as number, facts: JSON.parse(row.facts_json as string) as HardwareFacts,
    installDisk: row.install_disk ? { path: row.install_disk as string, at: row.install_disk_at as number } : null,
  };
}

/** Records the disk a selector resolved to; the facts row it was resolved from must exist. */
export function recordInstallDisk(db: Database.Database, node: string, path: string, at: number): void {
  db.prepare('UPDATE node_hardware SET install_disk = ?, install_disk_at = ? WHERE node = ?').run(path, at, node);
}
