// Reimaging control planes against fake Talos nodes: the last etcd member
// only with the operator's confirmation, after which the cluster is
// bootstrapped once more from the same secrets; one of three without it.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, KUBECONFIG_STALE_KEY, bootstrapState } from '../../src/lifecycle/cluster-state.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { kubeconfigPath } from '../../src/talos/health.js';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

/** Orchestrator passes until every node is ready (or the passes run out). */
async function untilReady(r: Rack): Promise<void> {
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 60; i++) {
      const p = await orch.pass();
      if (p.health.kind === 'ready' && r.store.listNodes().every((n) => n.state === 'ready')) return;
      await new Promise((res) => setTimeout(res, 30));
    }
  } finally {
    await orch.close();
  }
  throw new Error(`not ready: ${JSON.stringify(r.store.listNodes().map((n) => [n.name, n.state, n.stateReason]))}`);
}

/** Passes until the reset was sent, then the node's next PXE boot, then passes until all are ready. */
async function resetAndReinstall(r: Rack, name: string): Promise<void> {
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 20 && r.store.getNode(name)!.state !== 'wiping'; i++) await orch.pass();
  } finally {
    await orch.close();
  }
  expect(r.store.getNode(name)!.state).toBe('wiping');
  const fake = r.fakes.get(name)!;
  for (let i = 0; i < 100 && fake.mode !== 'maintenance'; i++) await new Promise((res) => setTimeout(res, 20));
  expect(fake.mode).toBe('maintenance');
  pxeBooted(r, name);
  await untilReady(r);
}

const operator = (r: Rack) => new Reimager(new StateMachine(r.store));

describe('reimaging the only control plane', () => {
  it('is refused without --destroy-etcd; with it, the node comes back and gets exactly one new Bootstrap', async () => {
    rack = await makeRack(['controlplane', 'worker']);
    pxeBooted(rack, 'cp1', 'w1');
    await untilReady(rack);
    expect(rack.totalBootstraps()).toBe(1);
    const kubeconfig = kubeconfigPath(rack.dir);
    writeFileSync(kubeconfig, 'the first cluster\'s kubeconfig\n');

    expect(() => operator(rack!).mark('cp1', 'new disk', 'test')).toThrow(/last etcd member/);
    expect(rack.store.getNode('cp1')!.state).toBe('ready');

    operator(rack).mark('cp1', 'new disk', 'test', { destroyEtcd: true });
    expect(bootstrapState(rack.store)).toBe('pending');
    await resetAndReinstall(rack, 'cp1');

    // The last member's reset is not graceful: there is no etcd left to leave.
    expect(rack.fakes.get('cp1')!.resets).toMatchObject([{ graceful: false }]);
    expect(rack.totalBootstraps()).toBe(2);
    expect(rack.fakes.get('cp1')!.bootstrapCalls).toBe(2);
    expect([...rack.etcd.members.keys()]).toEqual(['cp1']);
    expect(rack.store.getClusterState(BOOTSTRAP_KEY)).toBe('bootstrapped');
    const bootstraps = rack.store.events({ node: 'cp1' }).filter((e) => e.kind === 'bootstrap').map((e) => e.message);
    expect(bootstraps.filter((m) => m === 'etcd bootstrapped on cp1')).toHaveLength(2);
    // The kubeconfig marked stale was fetched again from the new cluster.
    expect(readFileSync(kubeconfig, 'utf8')).toContain('current-context: admin@rackboot');
    expect(rack.store.getClusterState(KUBECONFIG_STALE_KEY)).toBe('false');

    // Further passes send nothing more.
    await untilReady(rack);
    expect(rack.totalBootstraps()).toBe(2);
  });
});

describe('reimaging one of three control planes', () => {
  it('needs no confirmation, keeps the bootstrap, and the node rejoins without a Bootstrap', async () => {
    rack = await makeRack(['controlplane', 'controlplane', 'controlplane']);
    pxeBooted(rack, 'cp1', 'cp2', 'cp3');
    await untilReady(rack);
    expect(rack.totalBootstraps()).toBe(1);

    const { etcdDestroyed } = operator(rack).mark('cp2', 'new disk', 'test');
    expect(etcdDestroyed).toBe(false);
    expect(bootstrapState(rack.store)).toBe('bootstrapped');
    await resetAndReinstall(rack, 'cp2');

    expect(rack.fakes.get('cp2')!.resets).toMatchObject([{ graceful: true }]);
    expect(rack.totalBootstraps()).toBe(1);
    expect([...rack.etcd.members.keys()].sort()).toEqual(['cp1', 'cp2', 'cp3']);
    expect(bootstrapState(rack.store)).toBe('bootstrapped');
  });
});
