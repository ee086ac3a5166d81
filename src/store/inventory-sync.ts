// Making the node table match the inventory without stalling the daemon.
// The new inventory is first written, a slice at a time, into a scratch
// table private to this connection (TEMP: no fsync, invisible to other
// processes, gone after a crash). SQLite then compares it with the node
// table and only the difference is written, with one event per changed
// node. A difference of up to one slice (the usual edit) is one
// transaction: a crash leaves the old inventory or the new one. A larger
// one (thousands of nodes added or removed) is written in slices that yield
// to the event loop, because one transaction of 5,000 rows held it for
// 60-130 ms on the build machine; see applyStageInSlices for what that
// keeps and what it gives up.
import type Database from 'better-sqlite3';
import type { Inventory, NodeSpec } from '../inventory/types.js';

export interface InventorySyncResult {
  added: string[];
  updated: string[];
  removed: string[];
}

/** Nodes staged per slice: about 5 ms of work here, well under the loop's 50 ms budget. */
export const STAGE_SLICE = 250;

const CREATE_STAGE = `CREATE TEMP TABLE IF NOT EXISTS inventory_stage (
  pos INTEGER NOT NULL, name TEXT PRIMARY KEY, mac TEXT NOT NULL, role TEXT NOT NULL, ip TEXT, uuid TEXT, spec_json TEXT NOT NULL)`;

type Prepare = (sql: string) => Database.Statement;

export interface SyncTarget {
  db: Database.Database;
  stmt: Prepare;
  now: () => number;
}

// Connections with a sliced sync in flight: the scratch table is theirs until it ends.
const staging = new WeakSet<Database.Database>();

export class InventorySyncBusy extends Error {}

function beginStage(t: SyncTarget): void {
  if (staging.has(t.db)) throw new InventorySyncBusy('another inventory load is being stored; try again when it is done');
  t.db.exec(CREATE_STAGE);
  t.stmt('DELETE FROM temp.inventory_stage').run();
}

function stageSlice(t: SyncTarget, nodes: NodeSpec[], first: number): void {
  const insert = t.stmt('INSERT INTO temp.inventory_stage (pos, name, mac, role, ip, uuid, spec_json) VALUES (?, ?, ?, ?, ?, ?, ?)');
  t.db.transaction(() => {
    nodes.forEach((n, i) => insert.run(first + i, n.name, n.mac, n.role, n.ip ?? null, n.uuid ?? null, JSON.stringify(n)));
  })();
}

const ADDED = 'FROM temp.inventory_stage s WHERE NOT EXISTS (SELECT 1 FROM main.nodes n WHERE n.name = s.name)';
const CHANGED = 'FROM temp.inventory_stage s JOIN main.nodes n ON n.name = s.name WHERE (n.spec_json != s.spec_json OR n.in_inventory != 1)';
const REMOVED = 'FROM main.nodes n WHERE n.in_inventory = 1 AND n.name NOT IN (SELECT name FROM temp.inventory_stage)';
/** A changed node whose MAC, address or UUID moves: another node may be taking the old one. */
const MOVED = 'AND (n.mac != s.mac OR n.ip IS NOT s.ip OR n.uuid IS NOT s.uuid)';

/** Limits a statement to the names in @only (a JSON array), or not at all. */
const within = (column: string, sliced: boolean) => (sliced ? ` AND ${column} IN (SELECT value FROM json_each(@only))` : '');

type Only = string | null;

function applyRemoved(t: SyncTarget, at: number, only: Only): void {
  const x = within('n.name', only !== null);
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, n.name, NULL, 'inventory', 'removed from the inventory; history kept' ${REMOVED}${x} ORDER BY n.rowid`).run({ at, only });
  t.stmt(`UPDATE main.nodes SET in_inventory = 0 WHERE name IN (SELECT n.name ${REMOVED}${x})`).run({ only });
}

function applyChanged(t: SyncTarget, at: number, only: Only): void {
  const x = within('s.name', only !== null);
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, s.name, s.mac, 'inventory', CASE n.in_inventory WHEN 1 THEN 'inventory entry changed' ELSE 'back in the inventory' END
    ${CHANGED}${x} ORDER BY s.pos`).run({ at, only });
  t.stmt(`UPDATE main.nodes SET mac = s.mac, role = s.role, ip = s.ip, uuid = s.uuid, spec_json = s.spec_json, in_inventory = 1
    FROM temp.inventory_stage s WHERE main.nodes.name = s.name AND (main.nodes.spec_json != s.spec_json OR main.nodes.in_inventory != 1)${x}`).run({ only });
}

function applyAdded(t: SyncTarget, at: number, only: Only): void {
  const x = within('s.name', only !== null);
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, s.name, s.mac, 'inventory', 'added to the inventory; registered and marked for install' ${ADDED}${x} ORDER BY s.pos`).run({ at, only });
  t.stmt(`INSERT INTO main.nodes (name, mac, role, ip, uuid, spec_json, in_inventory, state, state_since, created_at)
    SELECT s.name, s.mac, s.role, s.ip, s.uuid, s.spec_json, 1, 'registered', @at, @at ${ADDED}${x} ORDER BY s.pos`).run({ at, only });
}

function differences(t: SyncTarget): InventorySyncResult & { moved: string[] } {
  const names = (sql: string) => t.stmt(sql).pluck().all() as string[];
  return {
    added: names(`SELECT s.name ${ADDED} ORDER BY s.pos`),
    updated: names(`SELECT s.name ${CHANGED} ORDER BY s.pos`),
    removed: names(`SELECT n.name ${REMOVED} ORDER BY n.rowid`),
    moved: names(`SELECT s.name ${CHANGED} ${MOVED} ORDER BY s.pos`),
  };
}

/** One write transaction: the whole difference, events first (they need the old rows). */
function applyStage(t: SyncTarget): InventorySyncResult {
  const at = t.now();
  const { added, updated, removed } = t.db.transaction(() => {
    const diff = differences(t);
    applyRemoved(t, at, null);
    applyChanged(t, at, null);
    applyAdded(t, at, null);
    return diff;
  })();
  t.stmt('DELETE FROM temp.inventory_stage').run();
  return { added, updated, removed };
}

const slicesOf = (names: string[], size: number) => Array.from({ length: Math.ceil(names.length / size) }, (_, i) => JSON.stringify(names.slice(i * size, (i + 1) * size)));
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A difference larger than one slice, written in slices that yield. The
 * order keeps every MAC, address and UUID owned by one inventory node at a
 * time: removals first, then every node whose identity moves (one
 * transaction, so a swap between two nodes is never half done), then the
 * other changes, then new nodes. Each slice re-checks its condition, so a
 * slice never writes a row that changed meanwhile. A crash between slices
 * leaves part of the edit; the next start loads the file again and
 * completes it (daemon.ts loads the inventory before serving).
 */
async function applyStageInSlices(t: SyncTarget, slice: number): Promise<InventorySyncResult> {
  const diff = differences(t);
  const at = t.now();
  for (const only of slicesOf(diff.removed, slice)) {
    t.db.transaction(() => applyRemoved(t, at, only))();
    await turn();
  }
  if (diff.moved.length > 0) {
    t.db.transaction(() => applyChanged(t, at, JSON.stringify(diff.moved)))();
    await turn();
  }
  for (const only of slicesOf(diff.updated, slice)) {
    t.db.transaction(() => applyChanged(t, at, only))();
    await turn();
  }
  for (const only of slicesOf(diff.added, slice)) {
    t.db.transaction(() => applyAdded(t, at, only))();
    await turn();
  }
  t.stmt('DELETE FROM temp.inventory_stage').run();
  return { added: diff.added, updated: diff.updated, removed: diff.removed };
}

/** All at once: for the CLI and the daemon's first load, before anything is served. */
export function syncInventoryNow(t: SyncTarget, inv: Inventory): InventorySyncResult {
  beginStage(t);
  stageSlice(t, inv.nodes, 0);
  return applyStage(t);
}

/**
 * In slices, yielding to the event loop between them. One at a time per
 * connection (the scratch table is the connection's): a second call while
 * one runs throws InventorySyncBusy.
 */
export async function syncInventoryInSlices(t: SyncTarget, inv: Inventory, slice = STAGE_SLICE): Promise<InventorySyncResult> {
  beginStage(t);
  staging.add(t.db);
  try {
    for (let i = 0; i < inv.nodes.length; i += slice) {
      stageSlice(t, inv.nodes.slice(i, i + slice), i);
      await turn();
    }
    // A small edit (the usual one) stays one transaction; a large one is written in slices.
    const changes = (t.stmt(`SELECT (SELECT count(*) ${ADDED}) + (SELECT count(*) ${CHANGED}) + (SELECT count(*) ${REMOVED})`).pluck().get() as number);
    return changes <= slice ? applyStage(t) : await applyStageInSlices(t, slice);
  } finally {
    staging.delete(t.db);
  }
}
