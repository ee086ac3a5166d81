// The UKI each node fetched by HTTP boot and is still to show it booted
// (branch secureboot). Firmware that refuses an image (Secure Boot: no
// enrolled key signed it) says nothing on the network: what rackboot sees is
// a fetch and then silence, or the firmware trying again. The row holds the
// first fetch of the node's current booting spell; the kernel's own DHCP
// (src/lifecycle/lifecycle.ts) or any state change ends the wait.
//
// Given the daemon's Store, the rows are where it keeps its nodes (branch
// pg-local: the shared database with `store: postgres://…`,
// pg/pg-uki-fetches.ts): the UKI may be fetched from one appliance and the
// kernel's DHCP seen only by another, and the wait must end for both. Given
// a bare SQLite handle, that file's rows, as before.
import type Database from 'better-sqlite3';
import { ukiFetchesOf } from './pg/pg-uki-fetches.js';
import { Store } from './store.js';

export interface UkiFetch { node: string; mac: string; name: string; servedAt: number; servedTo: string }
export type PendingUkiFetch = UkiFetch & { stillBooting: boolean };

export interface UkiFetchBook {
  /** Records a fetch; a later fetch in the same booting spell (firmware retrying) keeps the first one's time. */
  record(f: UkiFetch, spellSince: number): void;
  /** Fetches still waiting, with whether their node is still in the booting spell they began in. */
  pending(): PendingUkiFetch[];
  /**
   * Ends the node's wait; whether there was one to end (of appliances sweeping one shared row, only the one that ends it acts).
   * `servedAt`: only the fetch the caller read, not one another appliance recorded since.
   */
  forget(node: string, servedAt?: number): boolean;
  /** Whether any fetch waits at all: lets a path that sees every DHCP packet on a shared network skip the MAC lookup. */
  anyPending(): boolean;
}

export class SqliteUkiFetches implements UkiFetchBook {
  constructor(private readonly prepare: (sql: string) => Database.Statement) {}

  record(f: UkiFetch, spellSince: number): void {
    const row = this.prepare('SELECT served_at AS servedAt FROM uki_fetches WHERE node = ?').get(f.node) as { servedAt: number } | undefined;
    if (row && row.servedAt >= spellSince) return;
    this.prepare(
      `INSERT INTO uki_fetches (node, mac, name, served_at, served_to) VALUES (@node, @mac, @name, @servedAt, @servedTo)
       ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, name=excluded.name, served_at=excluded.served_at, served_to=excluded.served_to`,
    ).run(f);
  }

  pending(): PendingUkiFetch[] {
    return (this.prepare(
      `SELECT f.node, f.mac, f.name, f.served_at AS servedAt, f.served_to AS servedTo,
              (n.state = 'booting' AND n.state_since <= f.served_at) AS stillBooting
       FROM uki_fetches f LEFT JOIN nodes n ON n.name = f.node`,
    ).all() as (UkiFetch & { stillBooting: number | null })[]).map((r) => ({ ...r, stillBooting: r.stillBooting === 1 }));
  }

  forget(node: string, servedAt?: number): boolean {
    if (servedAt !== undefined) return this.prepare('DELETE FROM uki_fetches WHERE node = ? AND served_at = ?').run(node, servedAt).changes > 0;
    return this.prepare('DELETE FROM uki_fetches WHERE node = ?').run(node).changes > 0;
  }

  anyPending(): boolean {
    return this.prepare('SELECT 1 FROM uki_fetches LIMIT 1').get() !== undefined;
  }
}

const book = (where: Store | Database.Database): UkiFetchBook =>
  (where instanceof Store ? ukiFetchesOf(where) : new SqliteUkiFetches((sql) => where.prepare(sql)));

export function recordUkiFetch(where: Store | Database.Database, f: UkiFetch, spellSince: number): void {
  book(where).record(f, spellSince);
}

export function pendingUkiFetches(where: Store | Database.Database): PendingUkiFetch[] {
  return book(where).pending();
}

export function forgetUkiFetch(where: Store | Database.Database, node: string, servedAt?: number): boolean {
  return book(where).forget(node, servedAt);
}

export function anyUkiFetchPending(where: Store | Database.Database): boolean {
  return book(where).anyPending();
}
