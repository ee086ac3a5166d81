import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { NODE_STATES, TRANSITIONS, isTransitionAllowed, type NodeState } from '../../src/lifecycle/states.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { fakeClock, inventory, nodeSpec } from './fixtures.js';
import { BOOTSTRAP_KEY } from '../../src/lifecycle/cluster-state.js';

let store: Store;
afterEach(() => store?.close());

function setup() {
  const clock = fakeClock();
  store = new Store(':memory:', { now: clock.now });
  store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01'), nodeSpec('cp1', 'aa:bb:cc:00:00:02', 'controlplane')]));
  return { clock, machine: new StateMachine(store), lifecycle: new Lifecycle(store) };
}

/** Puts a node in `state` directly, as a restart would find it. */
function force(name: string, state: NodeState, marked: boolean) {
  store.setState(name, state, 'test setup', { markedForInstall: marked });
}

describe('transition table', () => {
  for (const from of NODE_STATES) {
    for (const to of NODE_STATES) {
      if (from === to) continue;
      const allowed = isTransitionAllowed(from, to);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        const { machine } = setup();
        force('w1', from, false);
        const eventsBefore = store.events({ node: 'w1' }).length;
        const r = machine.transition('w1', to, 'because');
        const after = store.getNode('w1')!;
        if (allowed) {
          expect(r.ok).toBe(true);
          expect(after.state).toBe(to);
          const last = store.events({ node: 'w1' }).at(-1)!;
          expect(last.kind).toBe('state');
          expect(last.data).toEqual({ from, to, reason: 'because' });
        } else {
          expect(r.ok).toBe(false);
          expect(after.state).toBe(from);
          const evs = store.events({ node: 'w1' });
          expect(evs.length).toBe(eventsBefore + 1);
          expect(evs.at(-1)!.kind).toBe('rejected');
        }
      });
    }
  }

  it('refuses the moves that would reinstall or resurrect a node behind the operator\'s back', () => {
    for (const [from, to] of [['installed', 'booting'], ['ready', 'booting'], ['ready', 'maintenance'], ['installed', 'configuring'], ['wiping', 'reimage-pending'], ['wiping', 'installed'], ['failed', 'maintenance'], ['registered', 'ready']] as const) {
      expect(isTransitionAllowed(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it('every state can fail or is terminal-for-failure, and failed records the step', () => {
    const { machine } = setup();
    for (const s of NODE_STATES) if (s !== 'failed' && s !== 'reimage-pending') expect(TRANSITIONS[s]).toContain('failed');
    force('w1', 'installing', true);
    machine.fail('w1', 'disk /dev/sda not found');
    const n = store.getNode('w1')!;
    expect(n.state).toBe('failed');
    expect(n.failedStep).toBe('installing');
    expect(n.stateReason).toBe('disk /dev/sda not found');
  });

  it('an unknown node is an error, not a crash', () => {
    const { machine } = setup();
    expect(machine.transition('nope', 'booting', 'x')).toMatchObject({ ok: false, error: 'no such node: nope' });
  });
});

describe('a move from the state the caller read', () => {
  it('goes through while the node is still there', () => {
    const { machine } = setup();
    force('w1', 'configuring', true);
    const r = machine.transition('w1', 'installing', 'config accepted', { from: 'configuring' });
    expect(r).toMatchObject({ ok: true, changed: true, node: { state: 'installing', stateReason: 'config accepted' } });
  });

  it('is refused and recorded once an operator moved the node, though the table alone allows it', () => {
    const { machine } = setup();
    force('w1', 'reimage-pending', true);
    expect(isTransitionAllowed('reimage-pending', 'installing')).toBe(true);
    const r = machine.transition('w1', 'installing', 'config accepted', { from: 'configuring' });
    expect(r).toMatchObject({ ok: false, error: 'stale transition configuring → installing refused: w1 is reimage-pending now: config accepted' });
    expect(store.getNode('w1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true, stateReason: 'test setup' });
    const last = store.events({ node: 'w1' }).at(-1)!;
    expect(last.kind).toBe('rejected');
    expect(last.data).toEqual({ from: 'reimage-pending', to: 'installing', reason: 'config accepted', expected: 'configuring' });
  });

  it('changes nothing else when refused: the mark stays as the operator left it', () => {
    const { machine } = setup();
    force('w1', 'ready', false);
    const r = machine.transition('w1', 'wiping', 'Reset sent', { from: 'reimage-pending', markedForInstall: true });
    expect(r.ok).toBe(false);
    expect(store.getNode('w1')).toMatchObject({ state: 'ready', markedForInstall: false });
  });
});

describe('observations drive the happy path', () => {
  it('push mode: PXE → maintenance → configuring → installing → network boot → installed → ready', () => {
    const { lifecycle } = setup();
    const mac = 'aa:bb:cc:00:00:01';
    const a = lifecycle.scriptRequested({ mac, source: 'http' });
    expect(a.kind).toBe('install');
    lifecycle.installBootServed(store.getNode('w1')!, 'install script');
    expect(store.getNode('w1')!.state).toBe('booting');
    lifecycle.observe('w1', { kind: 'talos-maintenance' });
    expect(store.getNode('w1')!.state).toBe('maintenance');
    lifecycle.observe('w1', { kind: 'config-applied' });
    expect(store.getNode('w1')!.state).toBe('configuring');
    lifecycle.observe('w1', { kind: 'install-started' });
    expect(store.getNode('w1')!.state).toBe('installing');
    // Talos reboots after installing; iPXE asks again and now gets the disk.
    const b = lifecycle.scriptRequested({ mac, source: 'http' });
    expect(b.kind).toBe('local-disk');
    expect(store.getNode('w1')).toMatchObject({ state: 'installed', markedForInstall: false });
    lifecycle.observe('w1', { kind: 'healthy' });
    expect(store.getNode('w1')!.state).toBe('installed'); // not bootstrapped yet
    store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
    lifecycle.observe('w1', { kind: 'healthy' });
    expect(store.getNode('w1')!.state).toBe('ready');
    lifecycle.observe('w1', { kind: 'unhealthy', detail: 'API unreachable' });
    expect(store.getNode('w1')!.state).toBe('installed');
  });

  it('a control plane is ready only as an etcd member', () => {
    const { lifecycle } = setup();
    store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
    force('cp1', 'installed', false);
    lifecycle.observe('cp1', { kind: 'healthy', etcdMember: false });
    expect(store.getNode('cp1')!.state).toBe('installed');
    lifecycle.observe('cp1', { kind: 'healthy', etcdMember: true });
    expect(store.getNode('cp1')!.state).toBe('ready');
  });

  it('pull mode: config-served moves booting to configuring', () => {
    const { lifecycle } = setup();
    force('w1', 'booting', true);
    lifecycle.observe('w1', { kind: 'config-served' });
    expect(store.getNode('w1')!.state).toBe('configuring');
  });

  it('a late observation cannot drag a node backwards', () => {
    const { lifecycle } = setup();
    force('w1', 'ready', false);
    const r = lifecycle.observe('w1', { kind: 'talos-maintenance' });
    expect(r.ok).toBe(false);
    expect(store.getNode('w1')!.state).toBe('ready');
  });

  it('an error fails the node at the step it was in', () => {
    const { lifecycle } = setup();
    force('w1', 'configuring', true);
    lifecycle.observe('w1', { kind: 'error', detail: 'ApplyConfiguration: invalid config' });
    expect(store.getNode('w1')).toMatchObject({ state: 'failed', failedStep: 'configuring', stateReason: 'ApplyConfiguration: invalid config' });
  });

  it('DHCP/TFTP sightings change no state; unknown MACs are discovered', () => {
    const { lifecycle } = setup();
    force('w1', 'installing', true);
    lifecycle.sighted({ mac: 'aa:bb:cc:00:00:01', source: 'dhcp' });
    expect(store.getNode('w1')!.state).toBe('installing');
    expect(lifecycle.sighted({ mac: 'de:ad:be:ef:00:01', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000' }).kind).toBe('unknown');
    expect(store.listDiscovered().map((d) => d.mac)).toEqual(['de:ad:be:ef:00:01']);
  });
});
