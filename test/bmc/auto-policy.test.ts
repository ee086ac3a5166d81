// The decisions behind the automatic BMC paths, read from the store alone.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decideResetFallback } from '../../src/bmc/auto-policy.js';
import type { Inventory } from '../../src/inventory/types.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { DEFAULT_POWER_SETTINGS, loadSettings } from '../../src/settings/settings.js';
import { Store } from '../../src/store/store.js';
import { writeFileSync } from 'node:fs';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-auto-policy-');
const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

function setup() {
  let now = 1_700_000_000_000;
  const store = new Store(join(tmp(), 'rackboot.db'), { now: () => now });
  stores.push(store);
  store.syncInventory({ cluster: { name: 'c' }, nodes: [{
    name: 'w1', mac: '52:54:00:00:03:01', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [],
    bmc: { address: 'ipmi://127.0.0.1', username: 'root', bootMode: 'uefi' },
  }] } as unknown as Inventory);
  store.setState('w1', 'installed', 'test', { markedForInstall: false });
  const reimager = new Reimager(new StateMachine(store));
  return { store, reimager, advance: (ms: number) => (now += ms), now: () => now };
}

const cfg = { ...DEFAULT_POWER_SETTINGS, resetFallbackAttempts: 3, resetFallbackSeconds: 120 };
const resetFailed = (store: Store) => store.appendEvent({ node: 'w1', kind: 'reset', message: 'Reset of w1 failed: x', data: { error: 'x' } });

describe('reimage fallback decision', () => {
  it('waits, then acts after resetFallbackSeconds; a node not marked for reimage never', () => {
    const { store, reimager, advance, now } = setup();
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toMatchObject({ act: false, reason: 'not marked for reimage (installed)' });
    reimager.mark('w1', 'dead disk', 'test');
    resetFailed(store);
    advance(119_000);
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toEqual({ act: false, reason: 'waiting for Talos to take Reset (1 failed, 119 s)' });
    advance(1000);
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toEqual({ act: 'bmc', why: 'Talos has not taken Reset in 120 s' });
  });

  it('counts failed Resets only since the latest reimage request, and a new request arms it again', () => {
    const { store, reimager, now } = setup();
    reimager.mark('w1', 'first', 'test');
    resetFailed(store); resetFailed(store); resetFailed(store);
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toEqual({ act: 'bmc', why: 'Talos refused or did not answer Reset 3 times' });
    store.appendEvent({ node: 'w1', kind: 'power', message: 'power cycle', data: { request: 'cycle', actor: 'reimage-fallback', ok: true } });
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toMatchObject({ act: false, reason: 'already power-cycled through the BMC for this reimage' });
    reimager.cancel('w1', 'test');
    reimager.mark('w1', 'second', 'test');
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toMatchObject({ act: false });
    resetFailed(store); resetFailed(store); resetFailed(store);
    expect(decideResetFallback(store, store.getNode('w1')!, now(), cfg)).toMatchObject({ act: 'bmc' });
  });
});

describe('power settings', () => {
  it('defaults, overrides and rejects bad values with their line', () => {
    const dir = tmp();
    const file = join(dir, 'rackboot.yaml');
    writeFileSync(file, 'power:\n  waveSize: 2\n  resetFallbackSeconds: 0\n');
    expect(loadSettings({ config: file }).power).toEqual({ ...DEFAULT_POWER_SETTINGS, waveSize: 2, resetFallbackSeconds: 0 });
    writeFileSync(file, 'power:\n  waveSize: 0\n');
    expect(() => loadSettings({ config: file })).toThrow(/rackboot\.yaml:2:\d+/);
  });
});
