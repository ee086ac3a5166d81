// Commissioning records in the shared PostgreSQL (branch pg-local): the
// commissioning kernel may be served by one appliance and the machine's
// facts read by another (every appliance runs the Commissioner), and every
// appliance's discovered page shows the record. The same statements as
// SQLite's, in PostgreSQL's placeholders, plus one guard: a failed read from
// one appliance does not write its error over a record another has read.
import type { HardwareFacts } from '../../talos/hardware.js';
import { SqliteCommissions, toCommissionRecord, type CommissionBook, type CommissionRecord } from '../discovered-hardware.js';
import type { Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

export class PgCommissions implements CommissionBook {
  constructor(private readonly pg: PgStore) {}

  boot(mac: string, at: number): void {
    this.pg.transaction(() => {
      this.pg.sharedQuery(
        `INSERT INTO discovered_hardware (mac, state, booted_at) VALUES ($1, 'booting', $2)
         ON CONFLICT (mac) DO UPDATE SET state='booting', booted_at=excluded.booted_at, last_error=NULL`,
        [mac, at],
      );
      this.pg.sharedQuery('DELETE FROM discovered_hardware h WHERE h.mac <> $1 AND NOT EXISTS (SELECT 1 FROM discovered d WHERE d.mac = h.mac)', [mac]);
    });
  }

  facts(mac: string, endpoint: string, facts: HardwareFacts, at: number): void {
    this.pg.sharedQuery("UPDATE discovered_hardware SET state='read', endpoint=$2, facts_json=$3, read_at=$4, last_error=NULL WHERE mac=$1",
      [mac, endpoint, JSON.stringify(facts), at]);
  }

  error(mac: string, endpoint: string | null, error: string): void {
    this.pg.sharedQuery("UPDATE discovered_hardware SET endpoint=COALESCE($2, endpoint), last_error=$3 WHERE mac=$1 AND state='booting'",
      [mac, endpoint, error]);
  }

  get(mac: string): CommissionRecord | undefined {
    const [row] = this.pg.sharedQuery('SELECT * FROM discovered_hardware WHERE mac = $1', [mac]);
    return row && toCommissionRecord(row);
  }

  toRead(since: number): CommissionRecord[] {
    return this.pg.sharedQuery("SELECT * FROM discovered_hardware WHERE state='booting' AND booted_at >= $1 ORDER BY booted_at", [since])
      .map(toCommissionRecord);
  }

  all(): CommissionRecord[] {
    return this.pg.sharedQuery('SELECT * FROM discovered_hardware').map(toCommissionRecord);
  }
}

/** The commissioning records where this store keeps its discovered machines: PostgreSQL's with a shared store, else the SQLite file's. */
export function commissionsOf(store: Store): CommissionBook {
  return store instanceof SharedStore ? new PgCommissions(store.shared) : new SqliteCommissions(store.db);
}
