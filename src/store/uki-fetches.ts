// The UKI each node fetched by HTTP boot and is still to show it booted
// (branch secureboot). Firmware that refuses an image (Secure Boot: no
// enrolled key signed it) says nothing on the network: what rackboot sees is
// a fetch and then silence, or the firmware trying again. The row holds the
// first fetch of the node's current booting spell; the kernel's own DHCP
// (src/lifecycle/lifecycle.ts) or any state change ends the wait.
import type Database from 'better-sqlite3';

export interface UkiFetch { node: string; mac: string; name: string; servedAt: number; servedTo: string }

/** Records a fetch; a later fetch in the same booting spell (firmware retrying) keeps the first one's time. */
export function recordUkiFetch(db: Database.Database, f: UkiFetch, spellSince: number): void {
  const row = db.prepare('SELECT served_at AS servedAt FROM uki_fetches WHERE node = ?').get(f.node) as { servedAt: number } | undefined;
  if (row && row.servedAt >= spellSince) return;
  db.prepare(
    `INSERT INTO uki_fetches (node, mac, name, served_at, served_to) VALUES (@node, @mac, @name, @servedAt, @servedTo)
     ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, name=excluded.name, served_at=excluded.served_at, served_to=excluded.served_to`,
  ).run(f);
}

/** Fetches still waiting, with whether their node is still in the booting spell they began in. */
export function pendingUkiFetches(db: Database.Database): (UkiFetch & { stillBooting: boolean })[] {
  return (db.prepare(
    `SELECT f.node, f.mac, f.name, f.served_at AS servedAt, f.served_to AS servedTo,
            (n.state = 'booting' AND n.state_since <= f.served_at) AS stillBooting
     FROM uki_fetches f LEFT JOIN nodes n ON n.name = f.node`,
  ).all() as (UkiFetch & { stillBooting: number | null })[]).map((r) => ({ ...r, stillBooting: r.stillBooting === 1 }));
}

export function forgetUkiFetch(db: Database.Database, node: string): void {
  db.prepare('DELETE FROM uki_fetches WHERE node = ?').run(node);
}

/** Whether any fetch waits at all: lets a path that sees every DHCP packet on a shared network skip the MAC lookup. */
export function anyUkiFetchPending(db: Database.Database): boolean {
  return db.prepare('SELECT 1 FROM uki_fetches LIMIT 1').get() !== undefined;
}
