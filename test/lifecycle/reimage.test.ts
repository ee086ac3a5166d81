import { afterEach, describe, expect, it, vi } from 'vitest';
import { Store } from '../../src/store/store.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager, ReimageError } from '../../src/lifecycle/reimage.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import type { NodeResetter } from '../../src/lifecycle/ports.js';
import { BOOTSTRAP_CLAIM_KEY, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, ETCD_MEMBERS_KEY, KUBECONFIG_STALE_KEY, bootstrapState } from '../../src/lifecycle/cluster-state.js';
import { fakeClock, inventory, nodeSpec } from './fixtures.js';

let store: Store;
afterEach(() => store?.close());

function setup(resetter?: NodeResetter) {
  store = new Store(':memory:', { now: fakeClock().now });
  store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01'), nodeSpec('w2', 'aa:bb:cc:00:00:02')]));
  store.setState('w1', 'ready', 'setup', { markedForInstall: false });
  const lifecycle = new Lifecycle(store);
  return { lifecycle, reimager: new Reimager(new StateMachine(store), resetter) };
}

describe('reimage with a reachable Talos API', () => {
  it('marks, resets, goes wiping, then the next PXE boot installs', async () => {
    const calls: string[] = [];
    const { reimager, lifecycle } = setup({ reset: async (n) => void calls.push(n) });
    const r = await reimager.reimage('w1', 'disk replaced', 'cli');
    expect(calls).toEqual(['w1']);
    expect(r.reset).toBe('sent');
    expect(store.getNode('w1')).toMatchObject({ state: 'wiping', markedForInstall: true });
    const action = lifecycle.scriptRequested({ mac: 'aa:bb:cc:00:00:01', source: 'http' });
    expect(action.kind).toBe('install');
    lifecycle.installBootServed(store.getNode('w1')!, 'install script');
    expect(store.getNode('w1')!.state).toBe('booting');
    const kinds = store.events({ node: 'w1' }).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'reimage')).toHaveLength(1);
  });

  it('cannot be cancelled once wiping', async () => {
    const { reimager } = setup({ reset: async () => {} });
    await reimager.reimage('w1', 'x', 'cli');
    expect(() => reimager.cancel('w1', 'cli')).toThrow(/only a pending reimage/);
  });
});

describe('reimage with the Talos API unreachable', () => {
  it('stays reimage-pending and marked; the next PXE boot installs afresh', async () => {
    const { reimager, lifecycle } = setup({ reset: async () => { throw new Error('connect ECONNREFUSED 10.0.0.21:50000'); } });
    const r = await reimager.reimage('w1', 'hung', 'web');
    expect(r).toMatchObject({ reset: 'failed', error: 'connect ECONNREFUSED 10.0.0.21:50000' });
    expect(store.getNode('w1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    const last = store.events({ node: 'w1' }).at(-1)!;
    expect(last.message).toMatch(/power-cycle the node/);
    expect(lifecycle.scriptRequested({ mac: 'aa:bb:cc:00:00:01', source: 'http' }).kind).toBe('install');
    lifecycle.installBootServed(store.getNode('w1')!, 'install');
    expect(store.getNode('w1')!.state).toBe('booting');
  });

  it('without a resetter (the CLI) only marks; a daemon with one resets it once', async () => {
    const { reimager } = setup();
    expect((await reimager.reimage('w1', 'cli mark', 'cli')).reset).toBe('unavailable');
    expect(store.getNode('w1')!.state).toBe('reimage-pending');
    let calls = 0;
    const daemonSide = new Reimager(new StateMachine(store), { reset: async () => void calls++ });
    await daemonSide.resetPending();
    await daemonSide.resetPending();
    expect(calls).toBe(1);
    expect(store.getNode('w1')!.state).toBe('wiping');
  });

  it('the sweep reads only the pending nodes, not the whole inventory', async () => {
    const { reimager } = setup();
    await reimager.reimage('w1', 'cli mark', 'cli');
    const reset: string[] = [];
    const daemonSide = new Reimager(new StateMachine(store), { reset: async (n) => void reset.push(n) });
    const listNodes = vi.spyOn(store, 'listNodes');
    await daemonSide.resetPending();
    expect(reset).toEqual(['w1']);
    expect(listNodes).not.toHaveBeenCalled();
  });
});

describe('cancel and guards', () => {
  it('cancel before it starts returns to the previous state, unmarked', async () => {
    const { reimager, lifecycle } = setup();
    await reimager.reimage('w1', 'oops', 'web');
    const n = reimager.cancel('w1', 'web');
    expect(n).toMatchObject({ state: 'ready', markedForInstall: false });
    expect(lifecycle.scriptRequested({ mac: 'aa:bb:cc:00:00:01', source: 'http' }).kind).toBe('local-disk');
  });

  it('cancelling a reimage of a never-installed node keeps its install mark', async () => {
    const { reimager } = setup();
    await reimager.reimage('w2', 'x', 'cli');
    expect(reimager.cancel('w2', 'cli')).toMatchObject({ state: 'registered', markedForInstall: true });
  });

  it('refuses unknown nodes, double reimage, and cancel without a reimage', async () => {
    const { reimager } = setup();
    await expect(reimager.reimage('nope', 'x', 'cli')).rejects.toMatchObject({ status: 404 });
    await reimager.reimage('w1', 'x', 'cli');
    await expect(reimager.reimage('w1', 'again', 'cli')).rejects.toBeInstanceOf(ReimageError);
    expect(() => reimager.cancel('w2', 'cli')).toThrow(/only a pending reimage/);
  });
});

describe('reimaging the last etcd member', () => {
  function cluster(cps: number) {
    store?.close();
    store = new Store(':memory:', { now: fakeClock().now });
    const names = Array.from({ length: cps }, (_, i) => `cp${i + 1}`);
    store.syncInventory(inventory([...names.map((n, i) => nodeSpec(n, `aa:bb:cc:00:01:0${i}`, 'controlplane', { bootstrap: i === 0 })), nodeSpec('w1', 'aa:bb:cc:00:02:01')]));
    for (const n of [...names, 'w1']) store.setState(n, 'ready', 'setup', { markedForInstall: false });
    store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
    store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
    store.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(names));
    return new Reimager(new StateMachine(store));
  }

  it('is refused without destroyEtcd, naming why, and changes nothing', () => {
    const reimager = cluster(1);
    expect(() => reimager.mark('cp1', 'new disk', 'cli')).toThrow(/cp1 is the last etcd member .*wipes etcd.*--destroy-etcd/);
    expect(store.getNode('cp1')!.state).toBe('ready');
    expect(bootstrapState(store)).toBe('bootstrapped');
    expect(store.events({ node: 'cp1' }).some((e) => e.kind === 'reimage')).toBe(false);
  });

  it('with destroyEtcd clears the bootstrap, pins it to the node and marks the kubeconfig stale; cancel puts it back', async () => {
    const reimager = cluster(1);
    const r = await reimager.reimage('cp1', 'new disk', 'cli', { destroyEtcd: true });
    expect(r).toMatchObject({ etcdDestroyed: true, reset: 'unavailable' });
    expect(store.getNode('cp1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    expect(bootstrapState(store)).toBe('pending');
    expect(store.getClusterState(BOOTSTRAP_NODE_KEY)).toBe('cp1');
    expect(JSON.parse(store.getClusterState(BOOTSTRAP_CLAIM_KEY)!)).toEqual({ owner: '', until: 0 });
    expect(store.getClusterState(ETCD_MEMBERS_KEY)).toBe('[]');
    expect(store.getClusterState(KUBECONFIG_STALE_KEY)).toBe('true');
    expect(store.events({ node: 'cp1' }).at(-1)!.message).toMatch(/etcd is destroyed with it \(last member, confirmed\)/);
    reimager.cancel('cp1', 'cli');
    expect(store.getNode('cp1')!.state).toBe('ready');
    expect(bootstrapState(store)).toBe('bootstrapped');
    expect(store.getClusterState(ETCD_MEMBERS_KEY)).toBe('["cp1"]');
    expect(store.getClusterState(KUBECONFIG_STALE_KEY)).toBe('false');
  });

  it('one of three control planes needs no confirmation and keeps the bootstrap; the last one standing does', async () => {
    const reimager = cluster(3);
    expect((await reimager.reimage('cp2', 'x', 'cli')).etcdDestroyed).toBe(false);
    expect(bootstrapState(store)).toBe('bootstrapped');
    expect(store.getClusterState(BOOTSTRAP_NODE_KEY)).toBe('cp1');
    await reimager.reimage('cp1', 'x', 'cli');
    expect(bootstrapState(store)).toBe('bootstrapped');
    // cp1 and cp2 are on their way to being wiped: cp3 holds the only copy.
    await expect(reimager.reimage('cp3', 'x', 'cli')).rejects.toThrow(/cp3 is the last etcd member/);
    // A destroyEtcd on a node that is not the last member is a permission, not an order.
    const again = cluster(3);
    expect((await again.reimage('cp3', 'x', 'cli', { destroyEtcd: true })).etcdDestroyed).toBe(false);
    expect(bootstrapState(store)).toBe('bootstrapped');
  });

  it('an installed control plane not yet seen in etcd does not count as a member that stays', async () => {
    const reimager = cluster(2);
    store.setState('cp2', 'installed', 'joining', { markedForInstall: false });
    store.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(['cp1']));
    await expect(reimager.reimage('cp1', 'x', 'cli')).rejects.toThrow(/last etcd member/);
    store.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(['cp1', 'cp2']));
    expect((await reimager.reimage('cp1', 'x', 'cli')).etcdDestroyed).toBe(false);
  });

  it('needs no confirmation before any bootstrap, for a node that never ran etcd, or for a worker', async () => {
    let reimager = cluster(1);
    expect((await reimager.reimage('w1', 'x', 'cli')).etcdDestroyed).toBe(false);
    store.setClusterState(BOOTSTRAP_KEY, 'pending');
    store.setClusterState(ETCD_MEMBERS_KEY, '[]');
    expect((await reimager.reimage('cp1', 'x', 'cli')).etcdDestroyed).toBe(false);
    reimager = cluster(1);
    store.setState('cp1', 'maintenance', 'setup');
    expect((await reimager.reimage('cp1', 'x', 'cli')).etcdDestroyed).toBe(false);
    expect(bootstrapState(store)).toBe('bootstrapped');
  });
});
