// What a pass of the Talos steps reads from the store. With thousands of
// nodes in the inventory, reading every node (and parsing each spec) holds
// the event loop for tens of milliseconds, and first contact polls every
// booting node's maintenance API every two seconds: a pass reads only the
// nodes it acts on.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { waitFor } from './helpers.js';

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

describe('noticing installs', () => {
  /** Every node pushed in one pass, then (the fakes installed) the next pass is the one that notices. */
  async function installing(r: Rack, ...names: string[]): Promise<void> {
    pxeBooted(r, ...names);
    expect((await r.onePass()).pushed.sort()).toEqual(names);
    await waitFor(() => names.every((n) => r.fakes.get(n)!.mode === 'configured'), 3000, 'the fakes to install');
  }

  it('asks at most `talksInFlight` installing nodes for Version at once, and records every one installed in the same pass', async () => {
    rack = await makeRack(['worker', 'worker', 'worker', 'worker', 'worker', 'worker']);
    const names = [...rack.fakes.keys()];
    await installing(rack, ...names);
    for (const f of rack.fakes.values()) f.faults.delayMs.Version = 80;
    let now = 0;
    let most = 0;
    const version = TalosClient.prototype.version;
    const spy = vi.spyOn(TalosClient.prototype, 'version').mockImplementation(async function (this: TalosClient) {
      most = Math.max(most, ++now);
      try {
        return await version.call(this);
      } finally {
        now--;
      }
    });
    try {
      const report = await rack.onePass({ talksInFlight: 2 });
      expect(report.installed.sort()).toEqual(names);
    } finally {
      spy.mockRestore();
    }
    expect(most).toBe(2);
    for (const n of names) expect(rack.store.getNode(n)!.state).toBe('installed');
  });

  it('an installing node whose API port refuses (mid-reboot) gets no TLS client and does not hold the others', async () => {
    rack = await makeRack(['worker', 'worker']);
    await installing(rack, 'w1', 'w2');
    const w1 = rack.fakes.get('w1')!;
    await w1.stop();
    const configuredFor: string[] = [];
    const configured = TalosClient.configured;
    const spy = vi.spyOn(TalosClient, 'configured').mockImplementation((ep, ...rest) => (configuredFor.push(ep), configured(ep, ...rest)));
    try {
      const report = await rack.onePass();
      expect(report.installed).toEqual(['w2']);
    } finally {
      spy.mockRestore();
    }
    expect(configuredFor).not.toContain(w1.endpoint);
    expect(configuredFor).toContain(rack.fakes.get('w2')!.endpoint);
    expect(rack.store.getNode('w1')!.state).toBe('installing');
  });
});
