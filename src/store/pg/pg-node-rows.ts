// Per-node side tables (node_config, node_hardware, node_hostname) in the shared PostgreSQL
// (scaleOut.postgres): one upsert per write, so two appliances writing one
// node's row each set their own columns and neither is lost.
import { nodeRowSql, SqliteNodeRows, type NodeRowTable } from '../node-rows.js';
import type { Row, Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

export class PgNodeRows implements NodeRowTable {
  constructor(private readonly pg: PgStore, private readonly table: string) {}

  upsert(node: string, values: Record<string, unknown>): void {
    this.pg.sharedQuery(nodeRowSql(this.table, Object.keys(values), (i) => `$${i}`).upsert, [node, ...Object.values(values)]);
  }

  update(node: string, values: Record<string, unknown>): void {
    this.pg.sharedQuery(nodeRowSql(this.table, Object.keys(values), (i) => `$${i}`).update, [node, ...Object.values(values)]);
  }

  get(node: string): Row | undefined {
    return this.pg.sharedQuery(`SELECT * FROM ${this.table} WHERE node=$1`, [node])[0];
  }
}

/** `table`'s rows where this store keeps its nodes: PostgreSQL's with scaleOut.postgres, else the SQLite file's. */
export function nodeRowsOf(store: Store, table: 'node_config' | 'node_hardware' | /* branch pg-local */ 'node_hostname'): NodeRowTable {
  return store instanceof SharedStore ? new PgNodeRows(store.shared, table) : new SqliteNodeRows(store, table);
}
