import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DISCOVERED_LIMIT, Store } from '../../src/store/store.js';
import { migrations } from '../../src/store/migrations.js';
import { StaleStateError } from '../../src/store/state-store.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { tempDirs } from '../helpers/tmp.js';
import { BACKENDS, useBackend } from './backends.js';

function inventory(nodes: Array<[string, string]>): Inventory {
  const text = `cluster:\n  name: c\n  controlPlaneEndpoint: https://10.0.0.1:6443\n  talosVersion: v1.11.5\nnodes:\n${nodes
    .map(([name, mac]) => `  - name: ${name}\n    mac: ${mac}\n    role: controlplane\n`)
    .join('')}`;
  const r = parseInventory(text, 'x');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.inventory;
}

const tmp = tempDirs('rb-store-');

describe('Store (SQLite)', () => {
  it('migrates a new file to the latest schema in WAL mode', () => {
    const s = new Store(join(tmp(), 'db.sqlite'));
    expect(s.schemaVersion).toBe(migrations.length);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.close();
  });

  it('finds a node by a second MAC as the inventory changes, here or from another connection, reading the specs once per change', async () => {
    const file = join(tmp(), 'db.sqlite');
    const s = new Store(file);
    const other = new Store(file);
    const inv = inventory([['a', '52:54:00:00:00:01'], ['b', '52:54:00:00:00:02']]);
    inv.nodes[0]!.macs = ['52:54:00:00:00:01', '52:54:00:00:00:11'];
    s.syncInventory(inv);
    const scans: string[] = [];
    const stmt = s.stmt.bind(s);
    s.stmt = (sql) => (sql.includes('json_each') && scans.push(sql), stmt(sql));
    expect(s.nodeByMac('52:54:00:00:00:11')?.name).toBe('a');
    for (let i = 0; i < 20; i++) expect(s.nodeByMac(`de:ad:00:00:00:${String(i).padStart(2, '0')}`)).toBeUndefined();
    expect(scans).toHaveLength(1);
    // This connection moves the MAC to b (in slices, as the daemon reloads): b owns it now.
    inv.nodes[0]!.macs = ['52:54:00:00:00:01'];
    inv.nodes[1]!.macs = ['52:54:00:00:00:02', '52:54:00:00:00:11'];
    await s.syncInventoryInSlices(inv, 1);
    expect(s.nodeByMac('52:54:00:00:00:11')?.name).toBe('b');
    // Another connection (a CLI, a second process) removes b: nobody owns it.
    other.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    expect(s.nodeByMac('52:54:00:00:00:11')).toBeUndefined();
    expect(s.nodeByMac('52:54:00:00:00:02')).toBeUndefined();
    expect(scans).toHaveLength(3);
    other.close();
    s.close();
  });

  // Every DISCOVER of a storm is a new MAC; a prune that sorts the whole
  // discovered table each time was two thirds of the daemon's CPU.
  it('records a new machine into a full discovered list without scanning or sorting the list', () => {
    let now = 1_000_000;
    const s = new Store(':memory:', { now: () => now });
    const mac = (i: number) => `de:ad:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const ran: string[] = [];
    const prepare = s.db.prepare.bind(s.db);
    s.db.prepare = ((sql: string) => (ran.push(sql), prepare(sql))) as typeof s.db.prepare;
    for (let i = 0; i <= DISCOVERED_LIMIT; i++) {
      now += 1000;
      s.recordDiscovered({ mac: mac(i), source: 'dhcp' });
    }
    expect(s.listDiscovered()).toHaveLength(DISCOVERED_LIMIT);
    const plans = ran.filter((sql) => /discovered/.test(sql)).map((sql) => {
      const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1], null]));
      const positional = Array((sql.match(/\?/g) ?? []).length).fill(null);
      const explain = s.db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const steps = (Object.keys(named).length ? explain.all(named) : explain.all(...positional)) as Array<{ detail: string }>;
      return { sql, plan: steps.map((p) => p.detail).join('; ') };
    });
    expect(plans.length).toBeGreaterThan(0);
    for (const { sql, plan } of plans) {
      expect(plan, sql).not.toMatch(/TEMP B-TREE|SCAN discovered(?! USING (COVERING )?INDEX)/);
    }
    s.close();
  });
});

describe('Store (SQLite) statements', () => {
  it('prepares the event insert once, not once per event', () => {
    const s = new Store(':memory:');
    const ran: string[] = [];
    const prepare = s.db.prepare.bind(s.db);
    s.db.prepare = ((sql: string) => (ran.push(sql), prepare(sql))) as typeof s.db.prepare;
    for (let i = 0; i < 50; i++) s.appendEvent({ mac: 'de:ad:00:00:00:01', kind: 'discovered', message: `seen ${i}` });
    expect(ran.filter((sql) => sql.startsWith('INSERT INTO events'))).toHaveLength(1);
    expect(s.events({ mac: 'de:ad:00:00:00:01' })).toHaveLength(50);
    s.close();
  });
});

describe.each(BACKENDS)('Store on %s', (kind) => {
  const backend = useBackend(kind);

  it('migrates a new store to the latest schema', () => {
    expect(backend.open().schemaVersion).toBe(migrations.length);
  });

  it(`keeps the ${DISCOVERED_LIMIT} most recently seen unknown machines, dropping the oldest`, () => {
    let t = 1_000;
    const s = backend.open({ now: () => t });
    const mac = (i: number) => `de:ad:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    for (let i = 0; i < DISCOVERED_LIMIT + 5; i++, t++) s.recordDiscovered({ mac: mac(i), source: 'dhcp' });
    const kept = new Set(s.listDiscovered().map((d) => d.mac));
    expect(kept.size).toBe(DISCOVERED_LIMIT);
    expect(kept.has(mac(4))).toBe(false);
    expect(kept.has(mac(5))).toBe(true);
    expect(kept.has(mac(DISCOVERED_LIMIT + 4))).toBe(true);
  });

  it('registers inventory nodes marked for install, and keeps history of removed nodes', () => {
    const s = backend.open();
    const first = s.syncInventory(inventory([['a', '52:54:00:00:00:01'], ['b', '52:54:00:00:00:02']]));
    expect(first.added).toEqual(['a', 'b']);
    expect(s.listNodes().map((n) => [n.name, n.state, n.markedForInstall])).toEqual([['a', 'registered', true], ['b', 'registered', true]]);

    const second = s.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    expect(second).toEqual({ added: [], updated: [], removed: ['b'] });
    expect(s.listNodes().map((n) => n.name)).toEqual(['a']);
    expect(s.listNodes({ includeRemoved: true }).map((n) => n.name)).toEqual(['a', 'b']);
    expect(s.nodeByMac('52:54:00:00:00:02')).toBeUndefined();
    expect(s.nodeByMac('52:54:00:00:00:01')?.name).toBe('a');
    expect(s.getNode('b')?.inInventory).toBe(false);
    expect(s.events({ node: 'b' }).map((e) => e.message)).toEqual([
      'added to the inventory; registered and marked for install',
      'removed from the inventory; history kept',
    ]);
    const third = s.syncInventory(inventory([['b', '52:54:00:00:00:02'], ['a', '52:54:00:00:00:03']]));
    expect(third).toEqual({ added: [], updated: ['b', 'a'], removed: [] });
    expect(s.events({ node: 'b' }).at(-1)!.message).toBe('back in the inventory');
    expect(s.events({ node: 'a' }).at(-1)!.message).toBe('inventory entry changed');
    expect(s.nodeByMac('52:54:00:00:00:03')?.name).toBe('a');
    // Back as it was (only its flag is written), then back changed (every column is).
    const asItWas = s.getNode('a')!.spec;
    s.syncInventory(inventory([['b', '52:54:00:00:00:02']]));
    expect(s.syncInventory(inventory([['b', '52:54:00:00:00:02'], ['a', '52:54:00:00:00:03']]))).toEqual({ added: [], updated: ['a'], removed: [] });
    expect(s.getNode('a')).toMatchObject({ inInventory: true, mac: '52:54:00:00:00:03', spec: asItWas });
    expect(s.nodeByMac('52:54:00:00:00:03')?.name).toBe('a');
    s.syncInventory(inventory([['b', '52:54:00:00:00:02']]));
    expect(s.syncInventory(inventory([['b', '52:54:00:00:00:02'], ['a', '52:54:00:00:00:04']]))).toEqual({ added: [], updated: ['a'], removed: [] });
    expect(s.getNode('a')).toMatchObject({ inInventory: true, mac: '52:54:00:00:00:04' });
    expect(s.events({ node: 'a' }).map((e) => e.message).slice(-4)).toEqual(['removed from the inventory; history kept', 'back in the inventory', 'removed from the inventory; history kept', 'back in the inventory']);
    expect(s.nodeByMac('52:54:00:00:00:04')?.name).toBe('a');
  });

  it('an unchanged sync writes nothing', async () => {
    const s = backend.open();
    const inv = inventory([['a', '52:54:00:00:00:01']]);
    s.syncInventory(inv);
    const before = s.events().length;
    expect(s.syncInventory(inv)).toEqual({ added: [], updated: [], removed: [] });
    expect(await s.syncInventoryInSlices(inv)).toEqual({ added: [], updated: [], removed: [] });
    expect(s.events().length).toBe(before);
  });

  it('writes a state change and its event together', () => {
    const s = backend.open();
    s.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    const n = s.setState('a', 'failed', 'timed out waiting for maintenance mode');
    expect(n.state).toBe('failed');
    expect(n.failedStep).toBe('registered');
    expect(s.getNode('a')).toEqual(n);
    const ev = s.events({ node: 'a' }).at(-1)!;
    expect(ev.kind).toBe('state');
    expect(ev.data).toEqual({ from: 'registered', to: 'failed', reason: 'timed out waiting for maintenance mode' });
    expect(() => s.setState('nope', 'ready', 'x')).toThrow(/no such node/);
  });

  it('refuses a state change from a state the node is no longer in, and writes nothing', () => {
    const s = backend.open();
    s.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    s.setState('a', 'booting', 'first');
    const events = s.events({ node: 'a' }).length;
    expect(() => s.setState('a', 'installing', 'stale', { from: 'registered' })).toThrow(StaleStateError);
    expect(s.getNode('a')!.state).toBe('booting');
    expect(s.events({ node: 'a' })).toHaveLength(events);
    expect(s.setState('a', 'installing', 'fresh', { from: 'booting' }).state).toBe('installing');
  });

  it('refuses to edit or delete events', async () => {
    const s = backend.open();
    s.appendEvent({ kind: 'test', message: 'x' });
    await expect(backend.raw(s, "UPDATE events SET message = 'y'")).rejects.toThrow(/append-only/);
    await expect(backend.raw(s, 'DELETE FROM events')).rejects.toThrow(/append-only/);
    expect(s.events().map((e) => e.message)).toEqual(['x']);
  });

  it('filters events by node, MAC and id, newest last, up to a limit', () => {
    const s = backend.open();
    for (let i = 0; i < 5; i++) s.appendEvent({ node: i % 2 ? 'odd' : 'even', mac: `m${i}`, kind: 'k', message: `e${i}`, data: { i } });
    expect(s.events({ node: 'odd' }).map((e) => e.message)).toEqual(['e1', 'e3']);
    expect(s.events({ mac: 'm4' }).map((e) => e.data)).toEqual([{ i: 4 }]);
    expect(s.events({ limit: 2 }).map((e) => e.message)).toEqual(['e3', 'e4']);
    const third = s.events()[2]!.id;
    expect(s.events({ afterId: third }).map((e) => e.message)).toEqual(['e3', 'e4']);
    expect(s.events({ node: 'even', afterId: third }).map((e) => e.message)).toEqual(['e4']);
  });

  it('counts discovered machines and keeps only the most recently seen', () => {
    let t = 1_000;
    const s = backend.open({ now: () => t++ });
    expect(s.recordDiscovered({ mac: 'aa', source: 'dhcp', arch: '7' })).toBe(true);
    expect(s.recordDiscovered({ mac: 'aa', source: 'tftp' })).toBe(false);
    const [d] = s.listDiscovered();
    expect([d!.arch, d!.source, d!.seenCount, d!.firstSeen < d!.lastSeen]).toEqual(['7', 'tftp', 2, true]);
  });

  it('finds a node by any of its MACs, and reads nodes by state in inventory order', () => {
    const s = backend.open();
    const inv = inventory([['a', '52:54:00:00:00:01'], ['b', '52:54:00:00:00:02']]);
    inv.nodes[1]!.macs = ['52:54:00:00:00:22'];
    s.syncInventory(inv);
    expect(s.nodeByMac('52:54:00:00:00:22')?.name).toBe('b');
    s.setState('b', 'booting', 'x');
    s.setState('a', 'booting', 'x');
    expect(s.nodesInStates(['booting']).map((n) => n.name)).toEqual(['a', 'b']);
    s.touch('a');
    expect(s.getNode('a')!.lastSeen).not.toBeNull();
  });

  it('survives a restart with state, events, discovered machines and cluster state intact', () => {
    const s1 = backend.open();
    s1.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    s1.setState('a', 'installed', 'install finished', { markedForInstall: false });
    s1.recordDiscovered({ mac: '52:54:00:99:99:99', source: 'dhcp', arch: '7', uuid: '00000000-0000-0000-0000-000000000000' });
    s1.recordDiscovered({ mac: '52:54:00:99:99:99', source: 'http', vendorClass: 'PXEClient' });
    s1.setClusterState('bootstrap', 'bootstrapping');
    s1.setClusterState('bootstrap', 'bootstrapping');
    s1.close();

    const s2 = backend.openAgain(s1);
    const a = s2.getNode('a')!;
    expect([a.state, a.markedForInstall, a.stateReason]).toEqual(['installed', false, 'install finished']);
    expect(s2.events({ node: 'a' })).toHaveLength(2);
    const d = s2.listDiscovered()[0]!;
    expect([d.mac, d.arch, d.vendorClass, d.source, d.seenCount]).toEqual(['52:54:00:99:99:99', '7', 'PXEClient', 'http', 2]);
    expect(s2.getClusterState('bootstrap')).toBe('bootstrapping');
    expect(s2.getClusterState('nothing')).toBeUndefined();
    // A re-sync after restart must not re-mark an installed node.
    s2.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    expect(s2.getNode('a')!.markedForInstall).toBe(false);
  });
});
