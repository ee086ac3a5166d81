// Making the node table match the inventory without stalling the daemon.
// The new inventory is first written, a slice at a time, into a scratch
// table private to this connection (TEMP: no fsync, invisible to other
// processes, gone after a crash). SQLite then compares it with the node
// table and only the difference is written, with one event per changed
// node, in one transaction whatever its size: a crash leaves the old
// inventory or the new one, never a mix that neither file describes (the
// kill -9 test in test/hardening/crash-inventory.test.ts). Writing a large
// difference in slices would shorten that transaction (5,000 rows held the
// loop 60-130 ms on a loaded build machine), but a crash between slices
// would then leave a store that is neither the last good inventory nor the
// new one, and an invalid file at the next start would keep it live.
// PostgreSQL's store (pg/pg-inventory-sync.ts) stages and applies the same
// way with the same statements (syncStatements), on its session's TEMP table.
import type Database from 'better-sqlite3';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { transacted } from './prepared.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface InventorySyncResult {
  added: string[];
  updated: string[];
  removed: string[];
}

/** Nodes staged per slice: about 5 ms of work here, well under the loop's 50 ms budget. */
export const STAGE_SLICE = 250;

// pos is the rowid: the statements below read the stage in file order, and
// with pos as the rowid that is its scan order, not a sort of 5,000 rows in
// a temporary B-tree per statement (a third of the event INSERT's time).
const CREATE_STAGE = `CREATE TEMP TABLE IF NOT EXISTS inventory_stage (
  pos INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, mac TEXT NOT NULL, role TEXT NOT NULL, ip TEXT, uuid TEXT, spec_json TEXT NOT NULL)`;

type Prepare = (sql: string) => Database.Statement;

export interface SyncTarget {
  db: Database.Database;
  stmt: Prepare;
  now: () => number;
  /**
   * Commits `write` without holding the loop for the disk and resolves once
   * it is durable (Store.commitThenFlush); the commit itself happens before
   * this returns its promise. Without it the apply is a FULL commit.
   */
  commitThenFlush?: <T>(write: () => T) => Promise<T>;
}

type Maybe<T> = T | Promise<T>;

/**
 * One store's scratch table: emptied, filled a slice at a time, then
 * compared and applied in one transaction. `owner` is what the scratch
 * table belongs to (SQLite's connection, PostgreSQL's store).
 */
export interface InventoryStage {
  owner: object;
  begin(): Maybe<void>;
  stage(nodes: NodeSpec[], first: number): Maybe<void>;
  apply(): Maybe<InventorySyncResult>;
  /** After the load, whether it was applied or failed. */
  end?(): Maybe<void>;
}

/** A stage whose every step is synchronous (SQLite's, and PostgreSQL's on the store's own session). */
export interface SyncInventoryStage extends InventoryStage {
  begin(): void;
  stage(nodes: NodeSpec[], first: number): void;
  apply(): InventorySyncResult;
}

// Owners with a sliced sync in flight: the scratch table is theirs until it ends.
const staging = new WeakSet<object>();

export class InventorySyncBusy extends Error {}

function refuseIfBusy(st: InventoryStage): void {
  if (staging.has(st.owner)) throw new InventorySyncBusy('another inventory load is being stored; try again when it is done');
}

function stageSlice(t: SyncTarget, nodes: NodeSpec[], first: number): void {
  const insert = t.stmt('INSERT INTO temp.inventory_stage (pos, name, mac, role, ip, uuid, spec_json) VALUES (?, ?, ?, ?, ?, ?, ?)');
  transacted(t.db, () => {
    nodes.forEach((n, i) => insert.run(first + i, n.name, n.mac, n.role, n.ip ?? null, n.uuid ?? null, JSON.stringify(n)));
  });
}

/** Where the node table, the scratch table and the load's time are, in each store's dialect (the statements are the same). */
export interface SyncDialect { main: string; temp: string; at: string }
const SQLITE: SyncDialect = { main: 'main.', temp: 'temp.', at: '@at' };

/** The statements that compare the scratch table with the node table and write the difference. */
export function syncStatements({ main, temp, at }: SyncDialect) {
  const ADDED = `FROM ${temp}inventory_stage s WHERE NOT EXISTS (SELECT 1 FROM ${main}nodes n WHERE n.name = s.name)`;
  const CHANGED = `FROM ${temp}inventory_stage s JOIN ${main}nodes n ON n.name = s.name WHERE (n.spec_json != s.spec_json OR n.in_inventory != 1)`;
  // Unqualified: the outer `in_inventory` is the node table's, the subquery's `name` the stage's, in both uses below.
  const GONE = `in_inventory = 1 AND name NOT IN (SELECT name FROM ${temp}inventory_stage)`;
  const REMOVED = `FROM ${main}nodes n WHERE ${GONE}`;
  return {
    added: `SELECT s.name ${ADDED} ORDER BY s.pos`,
    updated: `SELECT s.name ${CHANGED} ORDER BY s.pos`,
    removed: `SELECT n.name ${REMOVED} ORDER BY n.rowid`,
    // Events first (they need the old rows), in this order: removed, changed, added.
    apply: [
      `INSERT INTO ${main}events (at, node, mac, kind, message)
    SELECT ${at}, n.name, NULL, 'inventory', 'removed from the inventory; history kept' ${REMOVED} ORDER BY n.rowid`,
      // The writes to the node table below do not read it a second time in
      // a subquery or their SELECT: SQLite copies what such a read finds
      // into a scratch table before writing (an INSERT whose SELECT reads
      // its own table, every row it inserts). 5,000 new nodes: the INSERT
      // took 23 ms with that copy, 13.5 without; 5,000 removed 7.4 ms, now
      // 4.5; 5,000 back 9.7, now 6.5.
      `UPDATE ${main}nodes SET in_inventory = 0 WHERE ${GONE}`,
      `INSERT INTO ${main}events (at, node, mac, kind, message)
    SELECT ${at}, s.name, s.mac, 'inventory', CASE n.in_inventory WHEN 1 THEN 'inventory entry changed' ELSE 'back in the inventory' END
    ${CHANGED} ORDER BY s.pos`,
      // A node back in the inventory as it was only needs its flag: setting
      // the other columns rewrites their index entries too (5,000 nodes
      // back: 16-26 ms as one UPDATE, 11-17 as these two).
      `UPDATE ${main}nodes SET in_inventory = 1
    FROM ${temp}inventory_stage s WHERE ${main}nodes.name = s.name AND ${main}nodes.in_inventory != 1 AND ${main}nodes.spec_json = s.spec_json`,
      `UPDATE ${main}nodes SET mac = s.mac, role = s.role, ip = s.ip, uuid = s.uuid, spec_json = s.spec_json, in_inventory = 1
    FROM ${temp}inventory_stage s WHERE ${main}nodes.name = s.name AND ${main}nodes.spec_json != s.spec_json`,
      `INSERT INTO ${main}events (at, node, mac, kind, message)
    SELECT ${at}, s.name, s.mac, 'inventory', 'added to the inventory; registered and marked for install' ${ADDED} ORDER BY s.pos`,
      // Every staged name not in the node table, as ADDED selects, but found
      // by the name key's conflict instead of a read of the table.
      `INSERT INTO ${main}nodes (name, mac, role, ip, uuid, spec_json, in_inventory, state, state_since, created_at)
    SELECT s.name, s.mac, s.role, s.ip, s.uuid, s.spec_json, 1, 'registered', ${at}, ${at} FROM ${temp}inventory_stage s WHERE true ORDER BY s.pos
    ON CONFLICT (name) DO NOTHING`,
    ],
  };
}

const STATEMENTS = syncStatements(SQLITE);

function differences(t: SyncTarget): InventorySyncResult {
  const names = (sql: string) => t.stmt(sql).pluck().all() as string[];
  return { added: names(STATEMENTS.added), updated: names(STATEMENTS.updated), removed: names(STATEMENTS.removed) };
}

/** The whole difference, to run as one write transaction. */
function applyDifference(t: SyncTarget, diff = differences(t)): InventorySyncResult {
  const at = t.now();
  for (const sql of STATEMENTS.apply) t.stmt(sql).run({ at });
  return diff;
}

function emptyStage(t: SyncTarget): void {
  t.stmt('DELETE FROM temp.inventory_stage').run();
}

/** One FULL commit, on the loop: for the CLI and the first load. */
function applyStage(t: SyncTarget): InventorySyncResult {
  const result = transacted(t.db, () => applyDifference(t));
  emptyStage(t);
  return result;
}

/**
 * Nodes changed at or above which a reload's apply takes the WAL
 * checkpoint into a tick of its own: 5,000 nodes wrote 600-700 WAL pages,
 * so this many write about 35, and below it SQLite's own checkpoint (at
 * 1,000 pages, in whichever commit crosses it) costs what it costs any
 * lease's commit.
 */
const LARGE_APPLY = STAGE_SLICE;

/**
 * The same transaction, for a reload while serving: committed without its
 * fdatasync (done in the thread pool before this resolves). A large one
 * also without SQLite's automatic checkpoint, which a commit runs on the
 * loop once the WAL passes 1,000 pages: a 5,000-node apply writes 600-700
 * pages, and inside that commit the checkpoint (syncing the WAL, copying
 * it, syncing the database) was a further 5-10 ms on top of the apply's
 * own 10-17 ms commit. Its checkpoint runs after the flush instead, in a
 * tick of its own (8-14 ms here for 5,000 nodes). A connection whose
 * automatic checkpoint is already off has them run elsewhere (the daemon's
 * worker, checkpoint-off-loop.ts): then neither is done here.
 */
async function applyStageOffLoop(t: SyncTarget, commitThenFlush: NonNullable<SyncTarget['commitThenFlush']>): Promise<InventorySyncResult> {
  // The difference is read once first, in a tick of its own, for what the
  // read brings back into SQLite's cache (a large reload's memory release
  // empties it): the transaction's tick is then shorter. From 5,000 nodes
  // back to 5 in the daemon, three runs each: 27-35 ms without it, 23-26
  // with it (this read: 2.6-3.7 ms). Inside the transaction the difference
  // is read again, and that is the count of what the commit writes.
  differences(t);
  await nextTurn();
  const autocheckpoint = t.db.pragma('wal_autocheckpoint', { simple: true }) as number;
  // Only a large commit on a connection that checkpoints itself has a checkpoint worth moving.
  let checkpointAfterFlush = false;
  let durable: Promise<InventorySyncResult>;
  try {
    durable = commitThenFlush(() => {
      const diff = differences(t);
      checkpointAfterFlush = autocheckpoint > 0 && diff.added.length + diff.updated.length + diff.removed.length >= LARGE_APPLY;
      // Inside the transaction, so the count is of what this commit writes.
      if (checkpointAfterFlush) t.db.pragma('wal_autocheckpoint = 0');
      return applyDifference(t, diff);
    });
  } finally {
    if (checkpointAfterFlush) t.db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
  }
  emptyStage(t);
  const result = await durable;
  if (checkpointAfterFlush && t.db.open) t.db.pragma('wal_checkpoint(PASSIVE)');
  return result;
}

/** SQLite's scratch table: TEMP on the store's connection. */
function sqliteStage(t: SyncTarget): SyncInventoryStage {
  return {
    owner: t.db,
    begin: () => {
      // The temp database keeps the pages a large load filled on its free list,
      // dirty in its cache, so neither PRAGMA shrink_memory nor malloc_trim can
      // give them back (302 pages, +1.2 MB of the main malloc heap after 5,000
      // nodes and back; release-memory.ts). With auto_vacuum the emptied pages
      // leave the file, and the cache, at commit. It must be set before the
      // temp database's first table; later it is a no-op.
      t.db.pragma('temp.auto_vacuum = FULL');
      t.db.exec(CREATE_STAGE);
      emptyStage(t);
    },
    stage: (nodes, first) => stageSlice(t, nodes, first),
    apply: () => applyStage(t),
  };
}

/** For a reload while serving: the apply's commit does not wait for the disk on the loop. */
function servingStage(t: SyncTarget): InventoryStage {
  const flushed = t.commitThenFlush;
  const st = sqliteStage(t);
  return flushed ? { ...st, apply: () => applyStageOffLoop(t, flushed) } : st;
}

/** All at once: for the CLI and the daemon's first load, before anything is served. */
export function syncInventoryNow(t: SyncTarget | SyncInventoryStage, inv: Inventory): InventorySyncResult {
  const st = 'owner' in t ? t : sqliteStage(t);
  refuseIfBusy(st);
  st.begin();
  st.stage(inv.nodes, 0);
  return st.apply();
}

/**
 * Staged in slices, yielding to the event loop between them, then applied
 * in one transaction. One at a time per connection (the scratch table is
 * the connection's): a second call while one runs throws InventorySyncBusy.
 */
export async function syncInventoryInSlices(t: SyncTarget | InventoryStage, inv: Inventory, slice = STAGE_SLICE): Promise<InventorySyncResult> {
  const st = 'owner' in t ? t : servingStage(t);
  refuseIfBusy(st);
  staging.add(st.owner);
  try {
    await st.begin();
    for (let i = 0; i < inv.nodes.length; i += slice) {
      await st.stage(inv.nodes.slice(i, i + slice), i);
      await nextTurn();
    }
    return await st.apply();
  } finally {
    staging.delete(st.owner);
    await st.end?.();
  }
}
