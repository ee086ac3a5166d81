// Three control planes and two workers, from first contact to ready, against
// five fake Talos nodes on loopback addresses.
import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { bootstrapState } from '../../src/talos/bootstrap.js';
import { kubeconfigPath } from '../../src/talos/health.js';
import { ALL_PROFILES, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { clusterView } from '../../src/http/admin/views.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import type { HttpContext } from '../../src/http/context.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const ROLES = ['controlplane', 'controlplane', 'controlplane', 'worker', 'worker'] as const;
const ALL = ['cp1', 'cp2', 'cp3', 'w1', 'w2'];

describe.each(ALL_PROFILES)('a 3 + 2 cluster of Talos %s nodes', (profile) => {
  it('goes from first contact to ready with exactly one Bootstrap', async () => {
    rack = await makeRack([...ROLES], { profile });
    pxeBooted(rack, ...ALL);
    const orch = rack.orchestrator();
    try {
      let last;
      for (let i = 0; i < 40; i++) {
        last = await orch.pass();
        // A pass reports the nodes it probed: ready workers are not probed again, so the store says when all five are.
        if (last.health.kind === 'ready' && rack.store.nodesInStates(['ready']).length === 5) break;
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(last?.health, JSON.stringify(last)).toMatchObject({ kind: 'ready' });
    } finally {
      await orch.close();
    }
    expect(rack.totalBootstraps()).toBe(1);
    expect(rack.etcd.bootstrapCalls).toBe(1);
    expect(rack.fakes.get('cp1')!.bootstrapCalls).toBe(1);
    expect(rack.etcd.splitBrains).toEqual([]);
    expect(bootstrapState(rack.store)).toBe('bootstrapped');
    // What the admin page and /metrics show comes from the same records.
    const view = clusterView({ store: rack.store, inventory: () => undefined, settings: { dataDir: rack.dir } } as unknown as HttpContext);
    expect(view).toMatchObject({ bootstrap: 'bootstrapped', bootstrapped: true, etcdMembers: ['cp1', 'cp2', 'cp3'], downloads: { kubeconfig: true } });
    expect(new StateMachine(rack.store).clusterBootstrapped()).toBe(true);
    expect([...rack.etcd.members.keys()].sort()).toEqual(['cp1', 'cp2', 'cp3']);
    expect(rack.store.listNodes().map((n) => [n.name, n.state, n.markedForInstall])).toEqual(ALL.map((n) => [n, 'ready', false]));
    for (const f of rack.fakes.values()) expect(f.applied.map((a) => a.mode)).toEqual(['AUTO']);
    expect(rack.totalResets()).toBe(0);

    const file = kubeconfigPath(rack.dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('current-context: admin@rackboot');

    const path = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'state').map((e) => (e.data as { to: string }).to);
    expect(path).toEqual(['booting', 'maintenance', 'configuring', 'installing', 'installed', 'ready']);
    const talosSteps = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'talos').map((e) => e.message);
    expect(talosSteps.some((m) => m.startsWith('first contact: polling'))).toBe(true);
    expect(talosSteps.some((m) => m.startsWith('disks: /dev/sda'))).toBe(true);
    expect(talosSteps.some((m) => m.startsWith('config applied: requested AUTO'))).toBe(true);
    expect(talosSteps.some((m) => m.startsWith('install disk /dev/sda is /dev/sda'))).toBe(true);
  });

  it('marks a node failed when its install disk is missing, and sends it no config', async () => {
    rack = await makeRack(['worker'], { profile });
    rack.fakes.get('w1')!.opts.disks = [{ device_name: 'nvme0n1', size: 1e12, model: 'NVMe' }];
    pxeBooted(rack, 'w1');
    const orch = rack.orchestrator();
    try {
      await orch.pass();
    } finally {
      await orch.close();
    }
    const n = rack.store.getNode('w1')!;
    expect(n.state).toBe('failed');
    expect(n.stateReason).toContain('install disk /dev/sda not found');
    expect(n.stateReason).toContain('/dev/nvme0n1');
    expect(rack.fakes.get('w1')!.applied).toHaveLength(0);
  });

  it('marks a node failed when Talos rejects its config', async () => {
    rack = await makeRack(['worker'], { profile });
    pxeBooted(rack, 'w1');
    const orch = rack.orchestrator({ renderConfig: async () => Buffer.from('version: v1alpha1\nmachine:\n  type: router\n') });
    try {
      await orch.pass();
    } finally {
      await orch.close();
    }
    expect(rack.store.getNode('w1')).toMatchObject({ state: 'failed', stateReason: expect.stringContaining('rejected the machine config') });
  });
});
