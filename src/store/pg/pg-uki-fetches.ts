// UKI fetches in the shared PostgreSQL (branch pg-local): a node may fetch
// its UKI from appliance A while its kernel's DHCP reaches only B (a DHCP
// failover in between). B's sighting must end A's wait, and the silence
// check must read the node's shared state, or A fails a node that booted
// as a Secure Boot refusal. Every appliance sweeps the shared rows; only the
// one whose DELETE removed the row fails the node (uki-watch.ts).
import { SqliteUkiFetches, type PendingUkiFetch, type UkiFetch, type UkiFetchBook } from '../uki-fetches.js';
import type { Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

export class PgUkiFetches implements UkiFetchBook {
  constructor(private readonly pg: PgStore) {}

  record(f: UkiFetch, spellSince: number): void {
    // One statement: the firmware retrying through two appliances at once still keeps the spell's first fetch.
    this.pg.sharedQuery(
      `INSERT INTO uki_fetches AS u (node, mac, name, served_at, served_to) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (node) DO UPDATE SET mac=excluded.mac, name=excluded.name, served_at=excluded.served_at, served_to=excluded.served_to
       WHERE u.served_at < $6`,
      [f.node, f.mac, f.name, f.servedAt, f.servedTo, spellSince],
    );
  }

  pending(): PendingUkiFetch[] {
    return this.pg.sharedQuery<PendingUkiFetch>(
      `SELECT f.node, f.mac, f.name, f.served_at AS "servedAt", f.served_to AS "servedTo",
              COALESCE(n.state = 'booting' AND n.state_since <= f.served_at, false) AS "stillBooting"
       FROM uki_fetches f LEFT JOIN nodes n ON n.name = f.node`,
    );
  }

  forget(node: string, servedAt?: number): boolean {
    return this.pg.sharedQuery('DELETE FROM uki_fetches WHERE node = $1 AND ($2::bigint IS NULL OR served_at = $2) RETURNING node', [node, servedAt ?? null]).length > 0;
  }

  anyPending(): boolean {
    return this.pg.sharedQuery('SELECT 1 FROM uki_fetches LIMIT 1').length > 0;
  }
}

/** The UKI fetches where this store keeps its nodes: PostgreSQL's with a shared store, else the SQLite file's. */
export function ukiFetchesOf(store: Store): UkiFetchBook {
  return store instanceof SharedStore ? new PgUkiFetches(store.shared) : new SqliteUkiFetches((sql) => store.stmt(sql));
}
