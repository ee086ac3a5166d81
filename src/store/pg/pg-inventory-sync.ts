// Making PostgreSQL's node table match the inventory: the same statements,
// result and events as the SQLite sync (inventory-sync.ts), staged the same
// way. The inventory goes a slice at a time into a TEMP table; the server
// then compares it with `nodes` and writes the difference in one
// transaction, so only names come back to this process however large the
// inventory. Two appliances loading at once take turns on a transaction
// advisory lock, so neither computes its difference from rows the other is
// changing; other writers are held only on the rows the load changes.
//
// Two drivers run the same plan (`applyPlan`, a generator of statements):
// - synchronous, on PgStore's session (the first load, the CLI);
// - asynchronous, on a session of its own (a reload while serving): every
//   statement is awaited, so the event loop runs on while the server
//   works, including during the apply (a 5,000-node apply is ~10 statements
//   of 20-100 ms each on a loaded box, too long to wait in Atomics.wait).
//   Its own session, because the store's session cannot take other
//   callers' statements in the middle of this transaction.
import type { NodeSpec } from '../../inventory/types.js';
import { syncStatements, type InventoryStage, type InventorySyncResult, type SyncInventoryStage } from '../inventory-sync.js';
import type { PsqlSession } from './psql-session.js';
import { INVENTORY_CHANNEL } from './inventory-macs.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

type Query = <T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => T[];
type Step = readonly [sql: string, params: readonly unknown[]];
type Row = Record<string, unknown>;

const CREATE_STAGE = `CREATE TEMP TABLE IF NOT EXISTS inventory_stage (
  pos BIGINT NOT NULL, name TEXT PRIMARY KEY, mac TEXT NOT NULL, role TEXT NOT NULL, ip TEXT, uuid TEXT, spec_json TEXT NOT NULL)`;
const BEGIN_STAGE: Step[] = [[CREATE_STAGE, []], ['TRUNCATE pg_temp.inventory_stage', []]];

const STAGE_ROWS = `INSERT INTO pg_temp.inventory_stage (pos, name, mac, role, ip, uuid, spec_json)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`;

const stageStep = (nodes: NodeSpec[], first: number): Step => [STAGE_ROWS, [nodes.map((_, i) => first + i), nodes.map((n) => n.name),
  nodes.map((n) => n.mac), nodes.map((n) => n.role), nodes.map((n) => n.ip ?? null), nodes.map((n) => n.uuid ?? null), nodes.map((n) => JSON.stringify(n))]];

const STATEMENTS = syncStatements({ main: '', temp: 'pg_temp.', at: '$1::bigint' });
const LOAD_LOCK = "SELECT pg_advisory_xact_lock(hashtext('rackboot.inventory'))";

/** The apply, statement by statement, inside the driver's transaction; each `yield` gets the statement's rows. */
function* applyPlan(staged: number, at: number): Generator<Step, InventorySyncResult, Row[]> {
  // A session replaced between slices has no scratch table (the query
  // fails) or a partial one: never apply less than was staged, which
  // would read as nodes removed from the inventory.
  const [count] = yield ['SELECT count(*)::int AS n FROM pg_temp.inventory_stage', []];
  if (count?.n !== staged) throw new Error(`the inventory being stored was lost with the database session (${String(count?.n)} of ${staged} nodes staged); nothing was changed`);
  yield [LOAD_LOCK, []];
  const names = (rows: Row[]) => rows.map((r) => r.name as string);
  const diff: InventorySyncResult = {
    added: names(yield [STATEMENTS.added, []]), updated: names(yield [STATEMENTS.updated, []]), removed: names(yield [STATEMENTS.removed, []]),
  };
  for (const sql of STATEMENTS.apply) yield [sql, sql.includes('$1') ? [at] : []];
  // Delivered at COMMIT to every appliance's set of inventory MACs (inventory-macs.ts).
  if (diff.added.length + diff.updated.length + diff.removed.length > 0) yield [`NOTIFY ${INVENTORY_CHANNEL}`, []];
  return diff;
}

export interface PgSyncTarget {
  /** What the scratch table belongs to: the store whose session holds it. */
  owner: object;
  q: Query;
  transaction<T>(fn: () => T): T;
  now: () => number;
}

/** On the store's own session, synchronously. */
export function pgInventoryStage(t: PgSyncTarget): SyncInventoryStage {
  let staged = 0;
  return {
    owner: t.owner,
    begin() {
      for (const [sql, params] of BEGIN_STAGE) t.q(sql, params);
      staged = 0;
    },
    stage(nodes, first) {
      t.q(...stageStep(nodes, first));
      staged += nodes.length;
    },
    apply() {
      const plan = applyPlan(staged, t.now());
      const result = t.transaction(() => {
        for (let step = plan.next([]); ; step = plan.next(t.q(...step.value))) if (step.done) return step.value;
      });
      t.q('TRUNCATE pg_temp.inventory_stage');
      return result;
    },
  };
}

/** On a session of its own (`open`), awaiting every statement; the session is closed when the load ends (the scratch table with it). */
export function pgInventoryStageAsync(owner: object, open: () => PsqlSession, now: () => number): InventoryStage {
  let session: PsqlSession | undefined;
  let staged = 0;
  const ended = async () => { const s = session; session = undefined; await s?.close(); };
  return {
    owner,
    async begin() {
      await ended();
      session = open();
      for (const [sql, params] of BEGIN_STAGE) await session.exec(sql, params);
      staged = 0;
    },
    async stage(nodes, first) {
      await session!.exec(...stageStep(nodes, first));
      staged += nodes.length;
    },
    async apply() {
      const s = session!;
      const plan = applyPlan(staged, now());
      await s.exec('BEGIN');
      try {
        let step = plan.next([]);
        while (!step.done) {
          const rows = await s.rows(...step.value);
          await nextTurn();
          step = plan.next(rows);
        }
        await s.exec('COMMIT');
        return step.value;
      } catch (err) {
        await s.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
    end: ended,
  };
}
