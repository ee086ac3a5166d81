// Storing a large inventory edit in slices (src/store/inventory-sync.ts):
// the same end state and events as one transaction, the event loop turns
// between slices, and no MAC is ever owned by two inventory nodes at once.
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { InventorySyncBusy, syncInventoryInSlices, syncInventoryNow, type SyncTarget } from '../../src/store/inventory-sync.js';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';

const node = (name: string, mac: string, extra: Partial<NodeSpec> = {}): NodeSpec =>
  ({ name, mac, role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [], ...extra });
const inv = (nodes: NodeSpec[]): Inventory => ({ cluster: { name: 't' } as Inventory['cluster'], nodes });
const macOf = (i: number) => `52:54:02:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const bulk = (from: number, to: number, extra: Partial<NodeSpec> = {}) => Array.from({ length: to - from }, (_, k) => node(`bulk-${from + k}`, macOf(from + k), extra));

function target(store: Store): SyncTarget {
  let t = 1_700_000_000_000;
  return { db: store.db, stmt: (sql) => store.stmt(sql), now: () => t++ };
}

/** What a reader sees: the nodes table's inventory columns and the events, without ids and times. */
function snapshot(store: Store) {
  return {
    nodes: store.db.prepare('SELECT name, mac, role, ip, uuid, spec_json, in_inventory, state FROM nodes ORDER BY name').all(),
    events: store.db.prepare('SELECT node, mac, kind, message FROM events ORDER BY node, id').all(),
  };
}

// From two nodes to 600 (a MAC swap between the two), then to 300 of them changed, then back to one.
const steps = [
  inv([node('a', '52:54:00:00:00:0a'), node('b', '52:54:00:00:00:0b')]),
  inv([node('a', '52:54:00:00:00:0b'), node('b', '52:54:00:00:00:0a'), ...bulk(0, 600)]),
  inv([node('a', '52:54:00:00:00:0b'), ...bulk(0, 300, { installDisk: '/dev/vda' })]),
  inv([node('b', '52:54:00:00:00:0a')]),
];

describe('inventory sync in slices', () => {
  it('ends where one transaction ends, with the same events, and the loop turns between slices', async () => {
    const whole = new Store(':memory:');
    const sliced = new Store(':memory:');
    for (const [i, step] of steps.entries()) {
      const expected = syncInventoryNow(target(whole), step);
      let turns = 0;
      let done = false;
      const spin = () => { if (!done) { turns++; setImmediate(spin); } };
      setImmediate(spin);
      const got = await syncInventoryInSlices(target(sliced), step, 50);
      done = true;
      expect(got, `step ${i}`).toEqual(expected);
      expect(snapshot(sliced), `step ${i}`).toEqual(snapshot(whole));
      if (i === 1) expect(turns).toBeGreaterThan(12);
    }
  });

  it('never lets two inventory nodes own one MAC, or a moved MAC be half swapped, while it runs', async () => {
    const store = new Store(':memory:');
    const t = target(store);
    syncInventoryNow(t, inv([node('a', '52:54:00:00:00:0a'), ...bulk(0, 600), node('b', '52:54:00:00:00:0b')]));
    const clashes: unknown[] = [];
    let checks = 0;
    let done = false;
    const check = () => {
      if (done) return;
      checks++;
      clashes.push(...store.db.prepare('SELECT mac, count(*) AS n FROM nodes WHERE in_inventory = 1 GROUP BY mac HAVING n > 1').all());
      const a = store.getNode('a')!.mac;
      const b = store.getNode('b')!.mac;
      if (a === b) clashes.push({ a, b });
      setImmediate(check);
    };
    setImmediate(check);
    // a and b swap MACs, 600 changed nodes apart in the file (12 slices).
    await syncInventoryInSlices(t, inv([node('a', '52:54:00:00:00:0b'), ...bulk(0, 600, { installDisk: '/dev/vda' }), node('b', '52:54:00:00:00:0a')]), 50);
    // Node c takes b's MAC while b takes a new one.
    await syncInventoryInSlices(t, inv([node('c', '52:54:00:00:00:0a'), node('a', '52:54:00:00:00:0b'), ...bulk(0, 600, { installDisk: '/dev/vdb' }), node('b', '52:54:00:00:00:0c')]), 50);
    done = true;
    expect(checks).toBeGreaterThan(20);
    expect(clashes).toEqual([]);
    expect(store.getNode('c')!.mac).toBe('52:54:00:00:00:0a');
  });

  it('refuses a second load on the same connection while one is being stored', async () => {
    const store = new Store(':memory:');
    const t = target(store);
    const first = syncInventoryInSlices(t, inv(bulk(0, 500)), 50);
    expect(() => syncInventoryNow(t, inv(bulk(0, 10)))).toThrow(InventorySyncBusy);
    await expect(syncInventoryInSlices(t, inv(bulk(0, 10)), 50)).rejects.toThrow(InventorySyncBusy);
    expect((await first).added).toHaveLength(500);
    expect(syncInventoryNow(t, inv(bulk(0, 10))).removed).toHaveLength(490);
  });

  it('gives the scratch pages of a large load back: the temp database shrinks when the stage is emptied', async () => {
    const store = new Store(':memory:');
    const t = target(store);
    await syncInventoryInSlices(t, inv(bulk(0, 5000)), 250);
    await syncInventoryInSlices(t, inv(bulk(0, 5)), 250);
    // Pages left on the temp database's free list stay dirty in its cache, where neither shrink_memory nor malloc_trim reaches (258 here before, 302 in the daemon).
    expect(store.db.pragma('temp.freelist_count', { simple: true })).toBe(0);
    expect(store.db.pragma('temp.page_count', { simple: true })).toBeLessThan(20);
  });
});
