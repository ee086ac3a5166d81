// Making the node table match the inventory without stalling the daemon.
// The new inventory is first written, a slice at a time, into a scratch
// table private to this connection (TEMP: no fsync, invisible to other
// processes, gone after a crash). Then one short transaction compares the
// scratch table with the node table inside SQLite and writes only the
// difference, with one event per changed node. The swap stays atomic (a
// crash leaves the old inventory or the new one), and the JavaScript work
// per node happens in slices the event loop can interleave with DHCP.
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
const CHANGED = 'FROM temp.inventory_stage s JOIN main.nodes n ON n.name = s.name WHERE n.spec_json != s.spec_json OR n.in_inventory != 1';
const REMOVED = 'FROM main.nodes n WHERE n.in_inventory = 1 AND n.name NOT IN (SELECT name FROM temp.inventory_stage)';

/** The one write transaction: events first (they need the old rows), then the rows. */
function applyStage(t: SyncTarget): InventorySyncResult {
  const names = (sql: string) => t.stmt(sql).pluck().all() as string[];
  const at = t.now();
  const result = t.db.transaction((): InventorySyncResult => {
    const result = {
      added: names(`SELECT s.name ${ADDED} ORDER BY s.pos`),
      updated: names(`SELECT s.name ${CHANGED} ORDER BY s.pos`),
      removed: names(`SELECT n.name ${REMOVED} ORDER BY n.rowid`),
    };
    t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
      SELECT @at, s.name, s.mac, 'inventory', 'added to the inventory; registered and marked for install' ${ADDED} ORDER BY s.pos`).run({ at });
    t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
      SELECT @at, s.name, s.mac, 'inventory', CASE n.in_inventory WHEN 1 THEN 'inventory entry changed' ELSE 'back in the inventory' END
      ${CHANGED} ORDER BY s.pos`).run({ at });
    t.stmt(`INSERT INTO main.events (at, node, mac, kind, message)
      SELECT @at, n.name, NULL, 'inventory', 'removed from the inventory; history kept' ${REMOVED} ORDER BY n.rowid`).run({ at });
    t.stmt(`UPDATE main.nodes SET in_inventory = 0
      WHERE in_inventory = 1 AND name NOT IN (SELECT name FROM temp.inventory_stage)`).run();
    t.stmt(`UPDATE main.nodes SET mac = s.mac, role = s.role, ip = s.ip, uuid = s.uuid, spec_json = s.spec_json, in_inventory = 1
      FROM temp.inventory_stage s WHERE main.nodes.name = s.name AND (main.nodes.spec_json != s.spec_json OR main.nodes.in_inventory != 1)`).run();
    t.stmt(`INSERT INTO main.nodes (name, mac, role, ip, uuid, spec_json, in_inventory, state, state_since, created_at)
      SELECT s.name, s.mac, s.role, s.ip, s.uuid, s.spec_json, 1, 'registered', @at, @at ${ADDED} ORDER BY s.pos`).run({ at });
    return result;
  })();
  t.stmt('DELETE FROM temp.inventory_stage').run();
  return result;
}

/** All at once: for the CLI and the daemon's first load, before anything is served. */
export function syncInventoryNow(t: SyncTarget, inv: Inventory): InventorySyncResult {
  beginStage(t);
  stageSlice(t, inv.nodes, 0);
  return applyStage(t);
}

/**
 * In slices, yielding to the event loop between them. The caller runs one
 * at a time (the scratch table is per connection, not per call).
 */
export async function syncInventoryInSlices(t: SyncTarget, inv: Inventory, slice = STAGE_SLICE): Promise<InventorySyncResult> {
  beginStage(t);
  staging.add(t.db);
  try {
    for (let i = 0; i < inv.nodes.length; i += slice) {
      stageSlice(t, inv.nodes.slice(i, i + slice), i);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    staging.delete(t.db);
  }
  return applyStage(t);
}
