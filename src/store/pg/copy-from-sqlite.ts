// `rackboot store migrate`: the tables the appliances share (SHARED_TABLES,
// docs/scale-out.md: cluster state, leases, nodes with their states, events
// with their ids, discovered machines, reimage marks, boot tokens, config and
// hardware records, the admin token and sessions, UKI fetches, commissioning
// records, Talos-reported hostnames, upgrade rollouts, DHCPv6 leases) copied from one appliance's SQLite
// store into a fresh PostgreSQL schema, in one transaction: all rows or none. A target that
// already holds rows is refused unless forced (then emptied first, in the
// same transaction), and so is a database another appliance is leading on:
// its writes would mix with the copy.
import { Store } from '../store.js';
import { TALOS_LEADER_LOCK } from './coordination.js';
import { INVENTORY_CHANNEL } from './inventory-macs.js';
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
      // In rowid order: PostgreSQL's rowid identity then numbers the nodes in inventory order, as SQLite did.
      let rows = store.db.prepare(`SELECT * FROM ${ident(table)} ORDER BY rowid`).all() as Record<string, unknown>[];
      if (table === 'cluster_state') rows = rows.filter((r) => !LOCAL_CLUSTER_STATE_KEYS.includes(String(r.key)));
      // A rollout's driver was a process on this appliance; on PostgreSQL a driver is a leader session (pg-rollouts.ts).
      if (table === 'rollouts') rows = rows.map((r) => ({ ...r, driver_pid: null }));
      out[table] = rows;
    }
    return out;
  })();
}

/**
 * Ids were copied as they are (event ids stay the ones the appliance
 * showed); the next id PostgreSQL hands out must come after the last one.
 */
async function continueIdentity(s: PsqlSession, table: string): Promise<void> {
  await s.exec(`SELECT setval(seq, (SELECT max(id) FROM ${ident(table)}))
    FROM pg_get_serial_sequence(${lit(table)}, 'id') AS seq WHERE seq IS NOT NULL`);
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
  // TRUNCATE, not DELETE: events are append-only (a DELETE trigger refuses), and TRUNCATE fires no row triggers.
  if (held.length > 0) await s.exec(`TRUNCATE ${held.map(([t]) => ident(t)).join(', ')}`);
  const copied: Record<string, number> = {};
  for (const table of SHARED_TABLES) {
    const rows = data[table] ?? [];
    copied[table] = rows.length;
    if (rows.length === 0) continue;
    const columns = Object.keys(rows[0]!);
    for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
      const values = rows.slice(at, at + ROWS_PER_INSERT)
        .map((r, i) => `(${columns.map((c) => sqlValue(r[c], `${table} row ${at + i + 1} column ${c}`)).join(', ')})`);
      await s.exec(`INSERT INTO ${ident(table)} (${columns.map(ident).join(', ')}) VALUES ${values.join(',\n')}`);
    }
    if (columns.includes('id')) await continueIdentity(s, table);
  }
  // The nodes changed under any appliance still listening (inventory-macs.ts): delivered at COMMIT.
  await s.exec(`NOTIFY ${INVENTORY_CHANNEL}`);
  return { copied, replaced: force ? replaced : {} };
}
