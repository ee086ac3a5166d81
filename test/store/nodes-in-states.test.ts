// StateStore.nodesInStates (SQLite and PostgreSQL): what periodic passes read instead of every node.
import { describe, expect, it } from 'vitest';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';
import { BACKENDS, useBackend } from './backends.js';

const node = (name: string, mac: string, role: NodeSpec['role'] = 'worker'): NodeSpec => ({ name, mac, role, installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] });
const inv = (nodes: NodeSpec[]): Inventory => ({ cluster: { name: 't' } as Inventory['cluster'], nodes });

describe.each(BACKENDS)('nodesInStates on %s', (kind) => {
  const backend = useBackend(kind);
  it('returns the inventory nodes in the given states, in inventory order, and never a removed node', () => {
    const store = backend.open();
    store.syncInventory(inv([node('a', '52:54:00:00:00:01'), node('b', '52:54:00:00:00:02'), node('c', '52:54:00:00:00:03'), node('d', '52:54:00:00:00:04')]));
    store.setState('c', 'installing', 'test');
    store.setState('a', 'installing', 'test');
    store.setState('b', 'ready', 'test');
    store.setState('d', 'installing', 'test');
    store.syncInventory(inv([node('a', '52:54:00:00:00:01'), node('b', '52:54:00:00:00:02'), node('c', '52:54:00:00:00:03')]));
    expect(store.nodesInStates(['installing']).map((n) => n.name)).toEqual(['a', 'c']);
    expect(store.nodesInStates(['ready', 'installing']).map((n) => n.name)).toEqual(['a', 'b', 'c']);
    expect(store.nodesInStates(['booting'])).toEqual([]);
    expect(store.nodesInStates([])).toEqual([]);
    expect(store.nodesInStates(['ready'])[0]).toEqual(store.getNode('b'));
  });

  it('narrows to one role when asked (the health pass reads the control planes without the workers)', () => {
    const store = backend.open();
    store.syncInventory(inv([node('w1', '52:54:00:00:00:01'), node('cp1', '52:54:00:00:00:02', 'controlplane'), node('w2', '52:54:00:00:00:03'), node('cp2', '52:54:00:00:00:04', 'controlplane')]));
    for (const n of ['w1', 'cp1', 'w2']) store.setState(n, 'ready', 'test');
    store.setState('cp2', 'installed', 'test');
    expect(store.nodesInStates(['installed', 'ready'], 'controlplane').map((n) => n.name)).toEqual(['cp1', 'cp2']);
    expect(store.nodesInStates(['ready'], 'worker').map((n) => n.name)).toEqual(['w1', 'w2']);
    expect(store.nodesInStates(['installed'], 'worker')).toEqual([]);
    expect(store.nodesInStates(['ready']).map((n) => n.name)).toEqual(['w1', 'cp1', 'w2']);
  });
});
