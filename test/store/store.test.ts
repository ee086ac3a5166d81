import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { migrations } from '../../src/store/migrations.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { tempDirs } from '../helpers/tmp.js';

function inventory(nodes: Array<[string, string]>): Inventory {
  const text = `cluster:\n  name: c\n  controlPlaneEndpoint: https://10.0.0.1:6443\n  talosVersion: v1.11.5\nnodes:\n${nodes
    .map(([name, mac]) => `  - name: ${name}\n    mac: ${mac}\n    role: controlplane\n`)
    .join('')}`;
  const r = parseInventory(text, 'x');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.inventory;
}

const tmp = tempDirs('rb-store-');

describe('Store', () => {
  it('migrates a new file to the latest schema in WAL mode', () => {
    const s = new Store(join(tmp(), 'db.sqlite'));
    expect(s.schemaVersion).toBe(migrations.length);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.close();
  });

  it('registers inventory nodes marked for install, and keeps history of removed nodes', () => {
    const s = new Store(':memory:');
    const first = s.syncInventory(inventory([['a', '52:54:00:00:00:01'], ['b', '52:54:00:00:00:02']]));
    expect(first.added).toEqual(['a', 'b']);
    expect(s.listNodes().map((n) => [n.name, n.state, n.markedForInstall])).toEqual([['a', 'registered', true], ['b', 'registered', true]]);

    const second = s.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    expect(second).toEqual({ added: [], updated: [], removed: ['b'] });
    expect(s.listNodes().map((n) => n.name)).toEqual(['a']);
    expect(s.nodeByMac('52:54:00:00:00:02')).toBeUndefined();
    expect(s.getNode('b')?.inInventory).toBe(false);
    expect(s.events({ node: 'b' }).map((e) => e.message)).toEqual([
      'added to the inventory; registered and marked for install',
      'removed from the inventory; history kept',
    ]);
  });

  it('an unchanged sync writes nothing', () => {
    const s = new Store(':memory:');
    const inv = inventory([['a', '52:54:00:00:00:01']]);
    s.syncInventory(inv);
    const before = s.events().length;
    expect(s.syncInventory(inv)).toEqual({ added: [], updated: [], removed: [] });
    expect(s.events().length).toBe(before);
  });

  it('writes a state change and its event together', () => {
    const s = new Store(':memory:');
    s.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    const n = s.setState('a', 'failed', 'timed out waiting for maintenance mode');
    expect(n.state).toBe('failed');
    expect(n.failedStep).toBe('registered');
    const ev = s.events({ node: 'a' }).at(-1)!;
    expect(ev.kind).toBe('state');
    expect(ev.data).toEqual({ from: 'registered', to: 'failed', reason: 'timed out waiting for maintenance mode' });
  });

  it('refuses to edit or delete events', () => {
    const s = new Store(':memory:');
    s.appendEvent({ kind: 'test', message: 'x' });
    expect(() => s.db.prepare('UPDATE events SET message = ?').run('y')).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
  });

  it('survives a restart with state, events, discovered machines and cluster state intact', () => {
    const file = join(tmp(), 'db.sqlite');
    const s1 = new Store(file);
    s1.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    s1.setState('a', 'installed', 'install finished', { markedForInstall: false });
    s1.recordDiscovered({ mac: '52:54:00:99:99:99', source: 'dhcp', arch: '7', uuid: '00000000-0000-0000-0000-000000000000' });
    s1.recordDiscovered({ mac: '52:54:00:99:99:99', source: 'http', vendorClass: 'PXEClient' });
    s1.setClusterState('bootstrap', 'bootstrapping');
    s1.close();

    const s2 = new Store(file);
    const a = s2.getNode('a')!;
    expect([a.state, a.markedForInstall, a.stateReason]).toEqual(['installed', false, 'install finished']);
    expect(s2.events({ node: 'a' })).toHaveLength(2);
    const d = s2.listDiscovered()[0]!;
    expect([d.mac, d.arch, d.vendorClass, d.source, d.seenCount]).toEqual(['52:54:00:99:99:99', '7', 'PXEClient', 'http', 2]);
    expect(s2.getClusterState('bootstrap')).toBe('bootstrapping');
    // A re-sync after restart must not re-mark an installed node.
    s2.syncInventory(inventory([['a', '52:54:00:00:00:01']]));
    expect(s2.getNode('a')!.markedForInstall).toBe(false);
    s2.close();
  });
});
