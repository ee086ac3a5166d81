// Property: whatever sequence of observations, sightings, timeouts and
// cancelled reimages a node goes through, while it is not marked for
// install it never gets an install decision, and it only becomes marked
// through a reimage request.
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { sweepTimeouts } from '../../src/lifecycle/sweeper.js';
import { DEFAULT_TIMEOUTS } from '../../src/lifecycle/states.js';
import type { Observation } from '../../src/lifecycle/machine.js';
import { fakeClock, inventory, nodeSpec } from './fixtures.js';
import { prng } from '../helpers/fuzz.js';

const OBSERVATIONS: Observation[] = [
  { kind: 'talos-maintenance' }, { kind: 'config-served' }, { kind: 'config-applied' }, { kind: 'install-started' },
  { kind: 'install-finished' }, { kind: 'healthy', etcdMember: true }, { kind: 'healthy' }, { kind: 'unhealthy', detail: 'x' },
  { kind: 'error', detail: 'boom' },
];

describe('an unmarked node never installs', () => {
  it('holds over 150 random sequences of 60 events', async () => {
    const mac = 'aa:bb:cc:00:00:01';
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = prng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const clock = fakeClock();
      const store = new Store(':memory:', { now: clock.now });
      store.syncInventory(inventory([nodeSpec('w1', mac)]));
      const lifecycle = new Lifecycle(store);
      const reimager = new Reimager(lifecycle.machine);
      // Start as an installed node: unmarked.
      store.setState('w1', 'installed', 'start', { markedForInstall: false });
      const trail: string[] = [];
      for (let step = 0; step < 60; step++) {
        const op = Math.floor(rnd() * 8);
        const before = store.getNode('w1')!;
        if (op <= 2) {
          const obs = pick(OBSERVATIONS);
          trail.push(obs.kind);
          lifecycle.observe('w1', obs);
        } else if (op === 3) {
          trail.push('pxe');
          const a = lifecycle.scriptRequested({ mac, source: 'http' });
          if (a.kind === 'install') lifecycle.installBootServed(a.node, 'install');
          expect(a.kind === 'install', `seed ${seed}: ${trail.join(',')}`).toBe(before.markedForInstall);
        } else if (op === 4) {
          trail.push('dhcp');
          const a = lifecycle.sighted({ mac, source: pick(['dhcp', 'tftp'] as const) });
          expect(a.kind === 'install').toBe(before.markedForInstall);
        } else if (op === 5) {
          trail.push('time');
          clock.advance(Math.floor(rnd() * 3600_000));
          sweepTimeouts(lifecycle.machine, DEFAULT_TIMEOUTS, clock.now());
        } else if (op === 6) {
          trail.push('reimage+cancel');
          try {
            await reimager.reimage('w1', 'x', 'test');
            reimager.cancel('w1', 'test');
          } catch { /* not reimageable now */ }
        } else {
          trail.push('bootstrap');
          store.setClusterState('bootstrap', pick(['done', 'pending', 'failed']));
        }
        const after = store.getNode('w1')!;
        // Marking comes only from a reimage request, and cancel restores the previous mark.
        if (!before.markedForInstall) expect(after.markedForInstall, `seed ${seed}: ${trail.join(',')}`).toBe(false);
        if (!after.markedForInstall) expect(lifecycle.bootActionForMac(mac).kind).not.toBe('install');
      }
      store.close();
    }
  });
});
