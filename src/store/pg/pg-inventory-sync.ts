// Making PostgreSQL's node table match the inventory: the same statements,
// result and events as the SQLite sync (inventory-sync.ts), staged the same
// way. The inventory goes a slice at a time into a TEMP table of this
// appliance's session (one round trip per slice, the event loop turns
// between them); the server then compares it with `nodes` and writes the
// difference in one transaction, so only names come back to this process
// however large the inventory. Two appliances loading at once take turns
// on the node table's lock, so neither computes its difference from rows
// the other is changing.
import type { NodeSpec } from '../../inventory/types.js';
import { syncStatements, type InventoryStage, type InventorySyncResult } from '../inventory-sync.js';

type Query = <T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => T[];

const CREATE_STAGE = `CREATE TEMP TABLE IF NOT EXISTS inventory_stage (
  pos BIGINT NOT NULL, name TEXT PRIMARY KEY, mac TEXT NOT NULL, role TEXT NOT NULL, ip TEXT, uuid TEXT, spec_json TEXT NOT NULL)`;

const STAGE_ROWS = `INSERT INTO pg_temp.inventory_stage (pos, name, mac, role, ip, uuid, spec_json)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`;

const STATEMENTS = syncStatements({ main: '', temp: 'pg_temp.', at: '$1::bigint' });

export interface PgSyncTarget {
  /** What the scratch table belongs to: the store whose session holds it. */
  owner: object;
  q: Query;
  transaction<T>(fn: () => T): T;
  now: () => number;
}

export function pgInventoryStage(t: PgSyncTarget): InventoryStage {
  let staged = 0;
  return {
    owner: t.owner,
    begin() {
      t.q(CREATE_STAGE);
      t.q('TRUNCATE pg_temp.inventory_stage');
      staged = 0;
    },
    stage(nodes: NodeSpec[], first: number) {
      t.q(STAGE_ROWS, [nodes.map((_, i) => first + i), nodes.map((n) => n.name), nodes.map((n) => n.mac), nodes.map((n) => n.role),
        nodes.map((n) => n.ip ?? null), nodes.map((n) => n.uuid ?? null), nodes.map((n) => JSON.stringify(n))]);
      staged += nodes.length;
    },
    apply() {
      const at = t.now();
      const result = t.transaction(() => {
        // A session replaced between slices has no scratch table (the query
        // fails) or a partial one: never apply less than was staged, which
        // would read as nodes removed from the inventory.
        const [{ n }] = t.q<{ n: number }>('SELECT count(*)::int AS n FROM pg_temp.inventory_stage') as [{ n: number }];
        if (n !== staged) throw new Error(`the inventory being stored was lost with the database session (${n} of ${staged} nodes staged); nothing was changed`);
        t.q('LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE');
        const names = (sql: string) => t.q<{ name: string }>(sql).map((r) => r.name);
        const diff: InventorySyncResult = { added: names(STATEMENTS.added), updated: names(STATEMENTS.updated), removed: names(STATEMENTS.removed) };
        for (const sql of STATEMENTS.apply) t.q(sql, sql.includes('$1') ? [at] : []);
        return diff;
      });
      t.q('TRUNCATE pg_temp.inventory_stage');
      return result;
    },
  };
}
