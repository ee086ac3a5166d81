// One row per node in a side table (node_config, node_hardware, node_hostname): set some
// columns of a node's row, read it back. The SQLite implementation is the
// appliance's file; with scaleOut.postgres the rows are in the shared
// database (pg/pg-node-rows.ts), where the leader that read a node's
// hardware and the appliance that serves its config meet.
import type { Row, Store } from './store.js';

export interface NodeRowTable {
  /** Creates the node's row if it has none (other columns NULL) and sets `values` in it. */
  upsert(node: string, values: Record<string, unknown>): void;
  /** Sets `values` in the node's row if it has one. */
  update(node: string, values: Record<string, unknown>): void;
  get(node: string): Row | undefined;
}

/** The statements, with `param(i)` the dialect's i-th placeholder (1-based). */
export function nodeRowSql(table: string, columns: string[], param: (i: number) => string): { upsert: string; update: string; get: string } {
  const sets = columns.map((c, i) => `${c}=${param(i + 2)}`).join(', ');
  return {
    upsert: `INSERT INTO ${table} (node, ${columns.join(', ')}) VALUES (${[param(1), ...columns.map((_, i) => param(i + 2))].join(', ')})
      ON CONFLICT(node) DO UPDATE SET ${columns.map((c) => `${c}=excluded.${c}`).join(', ')}`,
    update: `UPDATE ${table} SET ${sets} WHERE node=${param(1)}`,
    get: `SELECT * FROM ${table} WHERE node=${param(1)}`,
  };
}

export class SqliteNodeRows implements NodeRowTable {
  constructor(private readonly store: Store, private readonly table: string) {}

  upsert(node: string, values: Record<string, unknown>): void {
    this.store.stmt(nodeRowSql(this.table, Object.keys(values), () => '?').upsert).run(node, ...Object.values(values));
  }

  update(node: string, values: Record<string, unknown>): void {
    // Anonymous placeholders bind in text order: the values, then the node in WHERE.
    this.store.stmt(nodeRowSql(this.table, Object.keys(values), () => '?').update).run(...Object.values(values), node);
  }

  get(node: string): Row | undefined {
    return this.store.stmt(`SELECT * FROM ${this.table} WHERE node=?`).get(node) as Row | undefined;
  }
}
