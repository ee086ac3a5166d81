// `rackboot store migrate`: the tables the appliances share (SHARED_TABLES,
// docs/scale-out.md) copied from one appliance's SQLite store into a fresh
// PostgreSQL schema, in one transaction: all rows or none. A target that
// already holds rows is refused unless forced (then emptied first, in the
// same transaction), and so is a database another appliance is leading on:
// its writes would mix with the copy.
import { Store } from '../store.js';
import { TALOS_LEADER_LOCK } from './coordination.js';
import { migratePg, SHARED_TABLES } from './migrations.js';
import { lit, PsqlSession } from './psql-session.js';

/** cluster_state keys that describe one appliance, not the cluster: never copied. */
export const LOCAL_CLUSTER_STATE_KEYS = ['talos-service'];

export interface CopyResult {
  /** Rows copied, by table. */
  copied: Record<string, number>;
  /** Rows the target held before (deleted when forced). */
  replaced: Record<string, number>;
}

export class CopyRefused extends Error {}

const ROWS_PER_INSERT = 500;

function sqlValue(v: unknown, where: string): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return lit(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${where}: ${v} has no SQL value`);
    return Number.isInteger(v) ? lit(v) : String(v);
  }
  throw new Error(`${where}: a ${Buffer.isBuffer(v) ? 'binary' : typeof v} value cannot be copied`);
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Every shared table's rows, read in one SQLite transaction (one consistent snapshot even while a daemon writes). */
export function readShared(store: Store): Record<string, Record<string, unknown>[]> {
  return store.db.transaction(() => {
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const table of SHARED_TABLES) {
      let rows = store.db.prepare(`SELECT * FROM ${ident(table)}`).all() as Record<string, unknown>[];
      if (table === 'cluster_state') rows = rows.filter((r) => !LOCAL_CLUSTER_STATE_KEYS.includes(String(r.key)));
      out[table] = rows;
    }
    return out;
  })();
}

export async function copySqliteToPg(sqlitePath: string, conninfo: string, opts: { force?: boolean } = {}): Promise<CopyResult> {
  const store = new Store(sqlitePath);
  let data: Record<string, Record<string, unknown>[]>;
  try {
    data = readShared(store);
  } finally {
    store.close();
  }
  const s = new PsqlSession(conninfo);
  try {
    await migratePg(s);
    await s.exec('BEGIN');
    try {
      const result = await copyIn(s, data, opts.force === true);
      await s.exec('COMMIT');
      return result;
    } catch (err) {
      await s.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    await s.close();
  }
}

async function copyIn(s: PsqlSession, data: Record<string, Record<string, unknown>[]>, force: boolean): Promise<CopyResult> {
  // No appliance may write while the copy runs; one that leads now would keep writing after it.
  await s.exec(`LOCK TABLE ${SHARED_TABLES.map(ident).join(', ')} IN ACCESS EXCLUSIVE MODE`);
  const [leader] = await s.rows<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0
    AND objid = ${lit(TALOS_LEADER_LOCK)}::oid AND objsubid = 1 AND granted`);
  if (leader) throw new CopyRefused(`an appliance leads the Talos steps on this database (backend pid ${leader.pid}): stop rackboot serve on every appliance using it first`);
  const replaced: Record<string, number> = {};
  for (const table of SHARED_TABLES) {
    const [row] = await s.rows<{ n: number }>(`SELECT count(*)::int AS n FROM ${ident(table)}`);
    replaced[table] = row?.n ?? 0;
  }
  const held = Object.entries(replaced).filter(([, n]) => n > 0);
  if (held.length > 0 && !force) {
    throw new CopyRefused(`the target is not empty (${held.map(([t, n]) => `${t}: ${n} rows`).join(', ')}); --force replaces its rows`);
  }
  const copied: Record<string, number> = {};
  for (const table of SHARED_TABLES) {
    if (replaced[table]) await s.exec(`DELETE FROM ${ident(table)}`);
    const rows = data[table] ?? [];
    copied[table] = rows.length;
    if (rows.length === 0) continue;
    const columns = Object.keys(rows[0]!);
    for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
      const values = rows.slice(at, at + ROWS_PER_INSERT)
        .map((r, i) => `(${columns.map((c) => sqlValue(r[c], `${table} row ${at + i + 1} column ${c}`)).join(', ')})`);
      await s.exec(`INSERT INTO ${ident(table)} (${columns.map(ident).join(', ')}) VALUES ${values.join(',\n')}`);
    }
  }
  return { copied, replaced: force ? replaced : {} };
}
