import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { sweepTimeouts } from '../../src/lifecycle/sweeper.js';
import { bootActionFor } from '../../src/lifecycle/boot.js';
import { DEFAULT_TIMEOUTS, NODE_STATES } from '../../src/lifecycle/states.js';
import { fakeClock, inventory, nodeSpec } from './fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'rackboot-lc-'));
  dirs.push(d);
  return join(d, 'rackboot.db');
}

const TIMED = NODE_STATES.filter((s) => DEFAULT_TIMEOUTS[s] > 0);
const UNTIMED = NODE_STATES.filter((s) => DEFAULT_TIMEOUTS[s] === 0);

describe('per-state timeouts', () => {
  it('covers the working steps', () => {
    expect(TIMED).toEqual(['booting', 'maintenance', 'configuring', 'installing', 'installed', 'wiping']);
  });

  for (const state of TIMED) {
    it(`a node stuck in ${state} past ${DEFAULT_TIMEOUTS[state]} s becomes failed with the step and reason`, () => {
      const clock = fakeClock();
      const store = new Store(':memory:', { now: clock.now });
      store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01')]));
      store.setState('w1', state, 'setup');
      const machine = new StateMachine(store);
      clock.advance(DEFAULT_TIMEOUTS[state] * 1000);
      expect(sweepTimeouts(machine, DEFAULT_TIMEOUTS, clock.now())).toEqual([]);
      expect(store.getNode('w1')!.state).toBe(state);
      clock.advance(1000);
      expect(sweepTimeouts(machine, DEFAULT_TIMEOUTS, clock.now())).toEqual(['w1']);
      const n = store.getNode('w1')!;
      expect(n.state).toBe('failed');
      expect(n.failedStep).toBe(state);
      expect(n.stateReason).toMatch(new RegExp(`^timed out: .* in ${state} \\(`));
      store.close();
    });
  }

  for (const state of UNTIMED) {
    it(`${state} never times out by default`, () => {
      const clock = fakeClock();
      const store = new Store(':memory:', { now: clock.now });
      store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01')]));
      if (state !== 'registered') store.setState('w1', state, 'setup');
      clock.advance(30 * 24 * 3600 * 1000);
      expect(sweepTimeouts(new StateMachine(store), DEFAULT_TIMEOUTS, clock.now())).toEqual([]);
      expect(store.getNode('w1')!.state).toBe(state);
      store.close();
    });
  }

  it('timeouts come from the settings, 0 disables one', () => {
    const clock = fakeClock();
    const store = new Store(':memory:', { now: clock.now });
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01'), nodeSpec('w2', 'aa:bb:cc:00:00:02')]));
    store.setState('w1', 'booting', 'setup');
    store.setState('w2', 'installing', 'setup');
    clock.advance(61_000);
    const t = { ...DEFAULT_TIMEOUTS, booting: 60, installing: 0 };
    expect(sweepTimeouts(new StateMachine(store), t, clock.now())).toEqual(['w1']);
    expect(store.getNode('w2')!.state).toBe('installing');
    store.close();
  });
});

describe('restart in every state', () => {
  for (const state of NODE_STATES) {
    for (const marked of [true, false]) {
      it(`${state} (marked ${marked}) survives a restart with the same decision and timeout clock`, () => {
        const file = tempDb();
        const clock = fakeClock();
        let store = new Store(file, { now: clock.now });
        store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01')]));
        store.setState('w1', state, 'before restart', { markedForInstall: marked });
        const before = store.getNode('w1')!;
        const decision = bootActionFor(before).kind;
        store.close();

        clock.advance(5000);
        store = new Store(file, { now: clock.now });
        const after = store.getNode('w1')!;
        expect(after).toEqual(before);
        expect(bootActionFor(after).kind).toBe(decision);
        expect(decision).toBe(marked ? 'install' : 'local-disk');
        // The timeout clock counts from the persisted state_since, not from the restart.
        const limit = DEFAULT_TIMEOUTS[state];
        clock.advance(Math.max(0, limit * 1000 - 5000) + 1);
        const failed = sweepTimeouts(new StateMachine(store), DEFAULT_TIMEOUTS, clock.now());
        expect(failed).toEqual(limit > 0 ? ['w1'] : []);
        store.close();
      });
    }
  }
});
