// Commissioning records (branch commission, issue 17): an unknown machine
// that was handed the Talos kernel with no config, and the hardware facts
// read from its maintenance mode. Keyed by the MAC that PXE-booted, since an
// unknown machine has no name. A new commissioning boot starts a new read.
//
// Given the daemon's Store, the rows are where it keeps its discovered
// machines (branch pg-local: the shared database with `store: postgres://…`,
// pg/pg-discovered-hardware.ts), so every appliance's page shows what any of
// them read. Given a bare SQLite handle, that file's rows, as before.
import type Database from 'better-sqlite3';
import type { HardwareFacts } from '../talos/hardware.js';
import { commissionsOf } from './pg/pg-discovered-hardware.js';
import { Store } from './store.js';

export type CommissionState = 'booting' | 'read';

export interface CommissionRecord {
  mac: string;
  state: CommissionState;
  bootedAt: number;
  endpoint: string | null;
  facts: HardwareFacts | null;
  readAt: number | null;
  /** Why the last read failed (the machine may still be booting). */
  lastError: string | null;
}

export interface CommissionBook {
  /** The commissioning kernel was served to `mac`: its facts are to be read (again). */
  boot(mac: string, at: number): void;
  facts(mac: string, endpoint: string, facts: HardwareFacts, at: number): void;
  error(mac: string, endpoint: string | null, error: string): void;
  get(mac: string): CommissionRecord | undefined;
  /** Machines whose commissioning boot is recent enough to be worth asking, oldest boot first. */
  toRead(since: number): CommissionRecord[];
  all(): CommissionRecord[];
}

export function toCommissionRecord(r: Record<string, unknown>): CommissionRecord {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    mac: r.mac as string, state: r.state as CommissionState, bootedAt: Number(r.booted_at), endpoint: r.endpoint as string | null,
    facts: r.facts_json ? (JSON.parse(r.facts_json as string) as HardwareFacts) : null, readAt: num(r.read_at),
    lastError: r.last_error as string | null,
  };
}

export class SqliteCommissions implements CommissionBook {
  constructor(private readonly db: Database.Database) {}

  boot(mac: string, at: number): void {
    this.db.prepare(
      `INSERT INTO discovered_hardware (mac, state, booted_at) VALUES (?, 'booting', ?)
       ON CONFLICT(mac) DO UPDATE SET state='booting', booted_at=excluded.booted_at, last_error=NULL`,
    ).run(mac, at);
    // Bounded like the discovered list it hangs off (Store.recordDiscovered keeps the most recent). Not this
    // machine's own row: its discovered row may still be on its way (the daemon writes sightings after the turn).
    this.db.prepare('DELETE FROM discovered_hardware WHERE mac <> ? AND mac NOT IN (SELECT mac FROM discovered)').run(mac);
  }

  facts(mac: string, endpoint: string, facts: HardwareFacts, at: number): void {
    this.db.prepare("UPDATE discovered_hardware SET state='read', endpoint=?, facts_json=?, read_at=?, last_error=NULL WHERE mac=?")
      .run(endpoint, JSON.stringify(facts), at, mac);
  }

  error(mac: string, endpoint: string | null, error: string): void {
    this.db.prepare('UPDATE discovered_hardware SET endpoint=COALESCE(?, endpoint), last_error=? WHERE mac=?').run(endpoint, error, mac);
  }

  get(mac: string): CommissionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM discovered_hardware WHERE mac = ?').get(mac) as Record<string, unknown> | undefined;
    return row && toCommissionRecord(row);
  }

  toRead(since: number): CommissionRecord[] {
    return (this.db.prepare("SELECT * FROM discovered_hardware WHERE state='booting' AND booted_at >= ? ORDER BY booted_at").all(since) as Record<string, unknown>[])
      .map(toCommissionRecord);
  }

  all(): CommissionRecord[] {
    return (this.db.prepare('SELECT * FROM discovered_hardware').all() as Record<string, unknown>[]).map(toCommissionRecord);
  }
}

const book = (where: Store | Database.Database): CommissionBook => (where instanceof Store ? commissionsOf(where) : new SqliteCommissions(where));

export function recordCommissionBoot(where: Store | Database.Database, mac: string, at: number): void {
  book(where).boot(mac, at);
}

export function recordCommissionFacts(where: Store | Database.Database, mac: string, endpoint: string, facts: HardwareFacts, at: number): void {
  book(where).facts(mac, endpoint, facts, at);
}

export function recordCommissionError(where: Store | Database.Database, mac: string, endpoint: string | null, error: string): void {
  book(where).error(mac, endpoint, error);
}

export function commissionRecord(where: Store | Database.Database, mac: string): CommissionRecord | undefined {
  return book(where).get(mac);
}

export function commissionsToRead(where: Store | Database.Database, since: number): CommissionRecord[] {
  return book(where).toRead(since);
}

export function allCommissions(where: Store | Database.Database): Map<string, CommissionRecord> {
  return new Map(book(where).all().map((r) => [r.mac, r]));
}
