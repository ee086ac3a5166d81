// Commissioning records (branch commission, issue 17): an unknown machine
// that was handed the Talos kernel with no config, and the hardware facts
// read from its maintenance mode. Keyed by the MAC that PXE-booted, since an
// unknown machine has no name. A new commissioning boot starts a new read.
import type Database from 'better-sqlite3';
import type { HardwareFacts } from '../talos/hardware.js';

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

/** The commissioning kernel was served to `mac`: its facts are to be read (again). */
export function recordCommissionBoot(db: Database.Database, mac: string, at: number): void {
  db.prepare(
    `INSERT INTO discovered_hardware (mac, state, booted_at) VALUES (?, 'booting', ?)
     ON CONFLICT(mac) DO UPDATE SET state='booting', booted_at=excluded.booted_at, last_error=NULL`,
  ).run(mac, at);
  // Bounded like the discovered list it hangs off (Store.recordDiscovered keeps the most recent).
  db.prepare('DELETE FROM discovered_hardware WHERE mac NOT IN (SELECT mac FROM discovered)').run();
}

export function recordCommissionFacts(db: Database.Database, mac: string, endpoint: string, facts: HardwareFacts, at: number): void {
  db.prepare("UPDATE discovered_hardware SET state='read', endpoint=?, facts_json=?, read_at=?, last_error=NULL WHERE mac=?")
    .run(endpoint, JSON.stringify(facts), at, mac);
}

export function recordCommissionError(db: Database.Database, mac: string, endpoint: string | null, error: string): void {
  db.prepare('UPDATE discovered_hardware SET endpoint=COALESCE(?, endpoint), last_error=? WHERE mac=?').run(endpoint, error, mac);
}

function toRecord(r: Record<string, unknown>): CommissionRecord {
  return {
    mac: r.mac as string, state: r.state as CommissionState, bootedAt: r.booted_at as number, endpoint: r.endpoint as string | null,
    facts: r.facts_json ? (JSON.parse(r.facts_json as string) as HardwareFacts) : null, readAt: r.read_at as number | null,
    lastError: r.last_error as string | null,
  };
}

export function commissionRecord(db: Database.Database, mac: string): CommissionRecord | undefined {
  const row = db.prepare('SELECT * FROM discovered_hardware WHERE mac = ?').get(mac) as Record<string, unknown> | undefined;
  return row && toRecord(row);
}

/** Machines whose commissioning boot is recent enough to be worth asking, oldest boot first. */
export function commissionsToRead(db: Database.Database, since: number): CommissionRecord[] {
  return (db.prepare("SELECT * FROM discovered_hardware WHERE state='booting' AND booted_at >= ? ORDER BY booted_at").all(since) as Record<string, unknown>[]).map(toRecord);
}

export function allCommissions(db: Database.Database): Map<string, CommissionRecord> {
  return new Map((db.prepare('SELECT * FROM discovered_hardware').all() as Record<string, unknown>[]).map((r) => [r.mac as string, toRecord(r)]));
}
