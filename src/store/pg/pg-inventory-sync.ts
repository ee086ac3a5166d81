// Making PostgreSQL's node table match the inventory: the same result and
// the same events, in the same order, as the SQLite sync (inventory-sync.ts),
// in one transaction. Two appliances loading an inventory at once take turns
// on a table lock, so neither computes its difference from rows the other is
// changing. The difference is computed here from one read of the table and
// written with one statement per kind of change (arrays, not a round trip
// per node).
import type { Inventory } from '../../inventory/types.js';
import type { InventorySyncResult } from '../inventory-sync.js';

type Query = <T = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => T[];

interface Staged { name: string; mac: string; role: string; ip: string | null; uuid: string | null; spec: string }

const INSERT_EVENTS = `INSERT INTO events (at, node, mac, kind, message)
  SELECT $1, e.node, e.mac, 'inventory', e.message FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(node, mac, message, pos) ORDER BY e.pos`;

const cols = (rows: Staged[]) => [rows.map((r) => r.name), rows.map((r) => r.mac), rows.map((r) => r.role), rows.map((r) => r.ip), rows.map((r) => r.uuid), rows.map((r) => r.spec)];
const UNNEST_STAGED = 'unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS s(name, mac, role, ip, uuid, spec_json, pos)';

/** Runs inside the caller's transaction. */
export function syncInventoryPg(q: Query, inv: Inventory, at: number): InventorySyncResult {
  q('LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE');
  const existing = new Map(q<{ name: string; spec_json: string; in_inventory: number }>('SELECT name, spec_json, in_inventory FROM nodes ORDER BY rowid')
    .map((r) => [r.name, r]));
  const staged: Staged[] = inv.nodes.map((n) => ({ name: n.name, mac: n.mac, role: n.role, ip: n.ip ?? null, uuid: n.uuid ?? null, spec: JSON.stringify(n) }));
  const names = new Set(staged.map((s) => s.name));
  const added = staged.filter((s) => !existing.has(s.name));
  const changed = staged.filter((s) => {
    const e = existing.get(s.name);
    return e !== undefined && (e.spec_json !== s.spec || e.in_inventory !== 1);
  });
  const removed = [...existing.values()].filter((e) => e.in_inventory === 1 && !names.has(e.name)).map((e) => e.name);

  // Events first, in SQLite's order: removed, changed, added.
  const events = (rows: { node: string; mac: string | null; message: string }[]) => {
    if (rows.length) q(INSERT_EVENTS, [at, rows.map((r) => r.node), rows.map((r) => r.mac), rows.map((r) => r.message)]);
  };
  events(removed.map((node) => ({ node, mac: null, message: 'removed from the inventory; history kept' })));
  events(changed.map((s) => ({ node: s.name, mac: s.mac, message: existing.get(s.name)!.in_inventory === 1 ? 'inventory entry changed' : 'back in the inventory' })));
  events(added.map((s) => ({ node: s.name, mac: s.mac, message: 'added to the inventory; registered and marked for install' })));

  if (removed.length) q('UPDATE nodes SET in_inventory = 0 WHERE name = ANY($1::text[])', [removed]);
  if (changed.length) {
    q(`UPDATE nodes SET mac = s.mac, role = s.role, ip = s.ip, uuid = s.uuid, spec_json = s.spec_json, in_inventory = 1
      FROM ${UNNEST_STAGED} WHERE nodes.name = s.name`, cols(changed));
  }
  if (added.length) {
    q(`INSERT INTO nodes (name, mac, role, ip, uuid, spec_json, in_inventory, state, state_since, created_at)
      SELECT s.name, s.mac, s.role, s.ip, s.uuid, s.spec_json, 1, 'registered', $7, $7 FROM ${UNNEST_STAGED} ORDER BY s.pos`, [...cols(added), at]);
  }
  return { added: added.map((s) => s.name), updated: changed.map((s) => s.name), removed };
}
