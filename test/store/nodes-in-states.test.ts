// StateStore.nodesInStates (SQLite and PostgreSQL): what periodic passes read instead of every node.
import { describe, expect, it } from 'vitest';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';
import { BACKENDS, useBackend } from './backends.js';

const node = (name: string, mac: string): NodeSpec => ({ name, mac, role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] });
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
});
