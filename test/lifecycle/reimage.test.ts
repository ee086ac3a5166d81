import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager, ReimageError } from '../../src/lifecycle/reimage.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import type { NodeResetter } from '../../src/lifecycle/ports.js';
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
