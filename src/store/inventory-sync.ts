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
  // The temp database keeps the pages a large load filled on its free list,
  // dirty in its cache, so neither PRAGMA shrink_memory nor malloc_trim can
  // give them back (302 pages, +1.2 MB of the main malloc heap after 5,000 nodes and back; release-memory.ts). With
  // auto_vacuum the emptied pages leave the file, and the cache, at commit.
  // It must be set before the temp database's first table; later it is a no-op.
  t.db.pragma('temp.auto_vacuum = FULL');
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

function applyRemoved(t: SyncTarget, at: number): void {
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, n.name, NULL, 'inventory', 'removed from the inventory; history kept' ${REMOVED} ORDER BY n.rowid`).run({ at });
  t.stmt(`UPDATE main.nodes SET in_inventory = 0 WHERE name IN (SELECT n.name ${REMOVED})`).run();
}

function applyChanged(t: SyncTarget, at: number): void {
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, s.name, s.mac, 'inventory', CASE n.in_inventory WHEN 1 THEN 'inventory entry changed' ELSE 'back in the inventory' END
    ${CHANGED} ORDER BY s.pos`).run({ at });
  t.stmt(`UPDATE main.nodes SET mac = s.mac, role = s.role, ip = s.ip, uuid = s.uuid, spec_json = s.spec_json, in_inventory = 1
    FROM temp.inventory_stage s WHERE main.nodes.name = s.name AND (main.nodes.spec_json != s.spec_json OR main.nodes.in_inventory != 1)`).run();
}

function applyAdded(t: SyncTarget, at: number): void {
  t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
    SELECT @at, s.name, s.mac, 'inventory', 'added to the inventory; registered and marked for install' ${ADDED} ORDER BY s.pos`).run({ at });
  t.stmt(`INSERT INTO main.nodes (name, mac, role, ip, uuid, spec_json, in_inventory, state, state_since, created_at)
    SELECT s.name, s.mac, s.role, s.ip, s.uuid, s.spec_json, 1, 'registered', @at, @at ${ADDED} ORDER BY s.pos`).run({ at });
}

function differences(t: SyncTarget): InventorySyncResult {
  const names = (sql: string) => t.stmt(sql).pluck().all() as string[];
  return {
    added: names(`SELECT s.name ${ADDED} ORDER BY s.pos`),
    updated: names(`SELECT s.name ${CHANGED} ORDER BY s.pos`),
    removed: names(`SELECT n.name ${REMOVED} ORDER BY n.rowid`),
  };
}

/** One write transaction: the whole difference, events first (they need the old rows). */
function applyStage(t: SyncTarget): InventorySyncResult {
  const at = t.now();
  const { added, updated, removed } = t.db.transaction(() => {
    const diff = differences(t);
    applyRemoved(t, at);
    applyChanged(t, at);
    applyAdded(t, at);
    return diff;
  })();
  t.stmt('DELETE FROM temp.inventory_stage').run();
  return { added, updated, removed };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** All at once: for the CLI and the daemon's first load, before anything is served. */
export function syncInventoryNow(t: SyncTarget, inv: Inventory): InventorySyncResult {
  beginStage(t);
  stageSlice(t, inv.nodes, 0);
  return applyStage(t);
}

/**
 * Staged in slices, yielding to the event loop between them, then applied
 * in one transaction. One at a time per connection (the scratch table is
 * the connection's): a second call while one runs throws InventorySyncBusy.
 */
export async function syncInventoryInSlices(t: SyncTarget, inv: Inventory, slice = STAGE_SLICE): Promise<InventorySyncResult> {
  beginStage(t);
  staging.add(t.db);
  try {
    for (let i = 0; i < inv.nodes.length; i += slice) {
      stageSlice(t, inv.nodes.slice(i, i + slice), i);
      await turn();
    }
    return applyStage(t);
  } finally {
    staging.delete(t.db);
  }
}
