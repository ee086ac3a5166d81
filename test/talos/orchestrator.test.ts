// What a pass of the Talos steps reads from the store. With thousands of
// nodes in the inventory, reading every node (and parsing each spec) holds
// the event loop for tens of milliseconds, and first contact polls every
// booting node's maintenance API every two seconds: a pass reads only the
// nodes it acts on.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

describe('a pass of the Talos steps', () => {
  it('from first contact to ready, never reads the whole node list; the maintenance pin is asked for the node being contacted', async () => {
    rack = await makeRack(['controlplane', 'worker', 'worker']);
    pxeBooted(rack, 'cp1', 'w1', 'w2');
    const listNodes = vi.spyOn(rack.store, 'listNodes');
    const pinsAskedFor = new Set<string>();
    const orch = rack.orchestrator({ maintenancePinSha256: (node) => (pinsAskedFor.add(node), undefined) });
    try {
      for (let i = 0; i < 60 && rack.store.nodesInStates(['ready']).length < 3; i++) await orch.pass();
    } finally {
      await orch.close();
    }
    expect(rack.store.nodesInStates(['ready']).map((n) => n.name)).toEqual(['cp1', 'w1', 'w2']);
    expect([...pinsAskedFor].sort()).toEqual(['cp1', 'w1', 'w2']);
    expect(listNodes).not.toHaveBeenCalled();
  });
});
