// Restart at every step: the orchestrator is dropped and a new one built
// over the same SQLite file, between passes and in the middle of calls.
// Bootstrap is never sent twice, and no node is reset unless marked.
import { afterEach, describe, expect, it } from 'vitest';
import { bootstrapState, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../../src/talos/bootstrap.js';
import type { PassReport } from '../../src/talos/orchestrator.js';
import { ALL_PROFILES, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { waitFor } from './helpers.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const ROLES = ['controlplane', 'controlplane', 'controlplane', 'worker', 'worker'] as const;
const ALL = ['cp1', 'cp2', 'cp3', 'w1', 'w2'];

/** One pass by a freshly built orchestrator over a freshly reopened store, as after a daemon restart. */
async function passAfterRestart(r: Rack): Promise<PassReport> {
  r.reopenStore();
  const orch = r.orchestrator();
  try {
    return await orch.pass();
  } finally {
    await orch.close();
  }
}

async function untilReady(r: Rack, count: number, maxPasses = 60): Promise<PassReport> {
  let last: PassReport | undefined;
  for (let i = 0; i < maxPasses; i++) {
    last = await passAfterRestart(r);
    if (last.health.kind === 'ready' && r.store.listNodes().filter((n) => n.state === 'ready').length === count) return last;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`not ready: ${JSON.stringify(last)}`);
}

describe.each(ALL_PROFILES)('Talos %s', (profile) => {
  describe('restart between every pass', () => {
    it('reaches ready with one Bootstrap and no Reset', async () => {
      rack = await makeRack([...ROLES], { profile });
      pxeBooted(rack, ...ALL);
      await untilReady(rack, 5);
      expect(rack.totalBootstraps()).toBe(1);
      expect(rack.totalResets()).toBe(0);
      // More restarts after ready change nothing.
      for (let i = 0; i < 3; i++) await passAfterRestart(rack);
      expect(rack.totalBootstraps()).toBe(1);
      expect(rack.totalResets()).toBe(0);
    });
  });

  describe('restart in the middle of a step', () => {
    it('killed while Bootstrap is in flight: the node got it, the reply was lost; it is never sent again', async () => {
      rack = await makeRack([...ROLES], { profile });
      pxeBooted(rack, ...ALL);
      const cp1 = rack.fakes.get('cp1')!;
      cp1.faults.delayMs.Bootstrap = 400;
      const orch = rack.orchestrator();
      const running = (async () => {
        for (let i = 0; i < 40 && bootstrapState(rack!.store) === 'pending'; i++) await orch.pass().catch(() => undefined);
      })();
      await waitFor(() => bootstrapState(rack!.store) === 'bootstrapping', 20_000, 'bootstrapping recorded');
      await orch.close();
      await running;
      expect(bootstrapState(rack.store)).toBe('bootstrapping');
      await waitFor(() => rack!.etcd.exists, 2000, 'the node to finish the bootstrap');
      cp1.faults.delayMs = {};
      await untilReady(rack, 5);
      expect(cp1.bootstrapCalls).toBe(1);
      expect(rack.totalBootstraps()).toBe(1);
      expect(rack.store.events().some((e) => e.kind === 'bootstrap' && e.message.startsWith('etcd already has'))).toBe(true);
    });

    it('killed after "bootstrapping" was recorded but before the call left: sent exactly once after restart', async () => {
      rack = await makeRack([...ROLES], { profile });
      pxeBooted(rack, ...ALL);
      // Run until cp1 is installed, but keep the bootstrap from happening: the guard cannot learn cp1's etcd state.
      for (let i = 0; i < 40 && rack.store.getNode('cp1')!.state !== 'installed'; i++) {
        rack.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapping');
        rack.store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
        rack.fakes.get('cp1')!.faults.status.ServiceList = { code: 14, details: 'apid restarting', times: 1000 };
        await passAfterRestart(rack);
      }
      expect(rack.totalBootstraps()).toBe(0);
      rack.fakes.get('cp1')!.faults.status = {};
      await untilReady(rack, 5);
      expect(rack.totalBootstraps()).toBe(1);
    });

    it('a recorded bootstrap stays pinned to its node: an inventory edit does not move it', async () => {
      rack = await makeRack(['controlplane', 'controlplane'], { profile });
      rack.store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
      rack.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapping');
      // The flag moves to cp2 in the inventory, and only cp2 comes up.
      rack.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.bootstrap',json('false')) WHERE name='cp1'").run();
      rack.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.bootstrap',json('true')) WHERE name='cp2'").run();
      pxeBooted(rack, 'cp2');
      let last: PassReport | undefined;
      for (let i = 0; i < 15; i++) {
        last = await passAfterRestart(rack);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(rack.store.getNode('cp2')!.state).toBe('installed');
      expect(last!.bootstrap).toEqual({ kind: 'waiting', reason: 'cp1 is registered, not installed' });
      expect(rack.totalBootstraps()).toBe(0);
    });

    it('killed while ApplyConfiguration is in flight: the node still ends up installed, config sent at most twice', async () => {
      rack = await makeRack(['worker'], { profile });
      pxeBooted(rack, 'w1');
      const w1 = rack.fakes.get('w1')!;
      w1.faults.delayMs.ApplyConfiguration = 300;
      const orch = rack.orchestrator();
      const running = orch.pass().catch(() => undefined);
      await waitFor(() => rack!.store.getNode('w1')!.state === 'configuring', 5000, 'configuring');
      await orch.close();
      await running;
      expect(rack.store.getNode('w1')!.state).toBe('configuring');
      w1.faults.delayMs = {};
      for (let i = 0; i < 30 && rack.store.getNode('w1')!.state !== 'installed'; i++) {
        await passAfterRestart(rack);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(rack.store.getNode('w1')!.state).toBe('installed');
      expect(w1.applied.length).toBeGreaterThanOrEqual(1);
      expect(w1.applied.length).toBeLessThanOrEqual(2);
      expect(rack.totalResets()).toBe(0);
    });
  });

  describe('reimage', () => {
    it('resets only the marked nodes, gracefully; the control plane rejoins etcd; Bootstrap stays at one', async () => {
      rack = await makeRack([...ROLES], { profile });
      pxeBooted(rack, ...ALL);
      await untilReady(rack, 5);
      rack.store.setState('w1', 'reimage-pending', 'operator asked (test)');
      rack.store.setState('cp2', 'reimage-pending', 'operator asked (test)');
      const report = await passAfterRestart(rack);
      expect(report.resets.map((r) => [r.node, r.result, r.graceful]).sort()).toEqual([['cp2', 'reset', true], ['w1', 'reset', true]]);
      for (const name of ['cp1', 'cp3', 'w2']) expect(rack.fakes.get(name)!.resets).toHaveLength(0);
      for (const name of ['cp2', 'w1']) {
        expect(rack.fakes.get(name)!.resets).toEqual([expect.objectContaining({ graceful: true, reboot: true, system_partitions_to_wipe: [{ label: 'STATE', wipe: true }, { label: 'EPHEMERAL', wipe: true }] })]);
        expect(rack.store.getNode(name)).toMatchObject({ state: 'wiping', markedForInstall: true });
      }
      expect([...rack.etcd.members.keys()].sort()).toEqual(['cp1', 'cp3']);
      // Restarts while wiping reset nothing more.
      for (let i = 0; i < 2; i++) await passAfterRestart(rack);
      expect(rack.totalResets()).toBe(2);

      await waitFor(() => rack!.fakes.get('cp2')!.mode === 'maintenance', 2000);
      pxeBooted(rack, 'cp2', 'w1');
      await untilReady(rack, 5);
      expect([...rack.etcd.members.keys()].sort()).toEqual(['cp1', 'cp2', 'cp3']);
      expect(rack.totalBootstraps()).toBe(1);
      expect(rack.totalResets()).toBe(2);
    });

    it('resets the last etcd member and an unhealthy node without graceful', async () => {
      rack = await makeRack(['controlplane', 'worker'], { profile });
      pxeBooted(rack, 'cp1', 'w1');
      await untilReady(rack, 2);
      rack.fakes.get('w1')!.faults.unhealthy = ['kubelet'];
      rack.store.setState('cp1', 'reimage-pending', 'test');
      rack.store.setState('w1', 'reimage-pending', 'test');
      const report = await passAfterRestart(rack);
      expect(report.resets.map((r) => [r.node, r.graceful]).sort()).toEqual([['cp1', false], ['w1', false]]);
      expect(rack.fakes.get('cp1')!.resets[0]).toMatchObject({ graceful: false, reboot: true });
    });

    it('a node reset before a crash, now in maintenance, is recorded as wiping without a second Reset', async () => {
      rack = await makeRack(['controlplane', 'worker'], { profile });
      pxeBooted(rack, 'cp1', 'w1');
      await untilReady(rack, 2);
      rack.store.setState('w1', 'reimage-pending', 'test');
      // The Reset went out and the daemon died before recording it.
      const admin = { ca: rack.pki.osCa.crt, crt: rack.pki.admin.crt, key: rack.pki.admin.key };
      const { TalosClient } = await import('../../src/talos/client.js');
      const c = TalosClient.configured(rack.fakes.get('w1')!.endpoint, admin);
      await c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: ['STATE', 'EPHEMERAL'] });
      c.close();
      await waitFor(() => rack!.fakes.get('w1')!.mode === 'maintenance', 2000);
      const report = await passAfterRestart(rack);
      expect(report.resets).toEqual([{ node: 'w1', result: 'already-wiped' }]);
      expect(rack.fakes.get('w1')!.resets).toHaveLength(1);
      expect(rack.store.getNode('w1')).toMatchObject({ state: 'wiping', markedForInstall: true });
    });
  });
});
