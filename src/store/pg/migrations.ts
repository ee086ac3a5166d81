// PostgreSQL's schema, taken from the SQLite migrations' own text so the two
// stores cannot drift: a table's CREATE statement is cut out of the SQLite
// migration that made it, with millisecond timestamps widened (SQLite's
// INTEGER is 64-bit, PostgreSQL's is 32-bit). Only the tables the shared
// store holds so far are listed.
import { migrations as SQLITE_MIGRATIONS } from '../migrations.js';
import type { PsqlSession } from './psql-session.js';
import { LEASES_REV_MIGRATION } from './shared-leases.js';

/** The tables kept in PostgreSQL, in creation order. */
export const SHARED_TABLES = ['cluster_state', /* branch pg-failover */ 'leases'] as const;

/** The CREATE TABLE statement for `table` from the SQLite migrations, in PostgreSQL's types. */
export function pgTableDdl(table: string): string {
  for (const m of SQLITE_MIGRATIONS) {
    const at = m.search(new RegExp(`CREATE TABLE ${table} \\(`));
    if (at < 0) continue;
    const end = m.indexOf(');', at);
    if (end < 0) break;
    return m.slice(at, end + 2).replace(/\bINTEGER\b/g, 'BIGINT');
  }
  throw new Error(`no SQLite migration creates table ${table}`);
}

export const PG_MIGRATIONS: string[] = [...SHARED_TABLES.map(pgTableDdl), /* branch pg-dhcp */ LEASES_REV_MIGRATION];

/** Applies what is missing, one instance at a time (transaction-scoped advisory lock). */
export async function migratePg(s: PsqlSession): Promise<number> {
  await s.exec('BEGIN');
  try {
    await s.exec("SELECT pg_advisory_xact_lock(hashtext('rackboot.migrate'))");
    await s.exec('CREATE TABLE IF NOT EXISTS rackboot_schema (version INTEGER NOT NULL)');
    const [row] = await s.rows<{ version: number }>('SELECT max(version) AS version FROM rackboot_schema');
    const from = row?.version ?? 0;
    for (let v = from; v < PG_MIGRATIONS.length; v++) {
      await s.exec(PG_MIGRATIONS[v]!);
      await s.exec('INSERT INTO rackboot_schema (version) VALUES ($1)', [v + 1]);
    }
    await s.exec('COMMIT');
    return PG_MIGRATIONS.length - from;
  } catch (err) {
    await s.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
