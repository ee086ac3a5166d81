// A node past a provisioning step's timeout gets one PXE-once + power-cycle
// through its BMC (the Redfish fake over loopback), then is failed as before.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stepClockStart } from '../../src/bmc/auto-policy.js';
import { AutoPower } from '../../src/bmc/auto-power.js';
import { writePassword } from '../../src/bmc/credentials.js';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { DEFAULT_TIMEOUTS } from '../../src/lifecycle/states.js';
import { sweepTimeouts, type StuckRetry } from '../../src/lifecycle/sweeper.js';
import { DEFAULT_POWER_SETTINGS } from '../../src/settings/settings.js';
import { Store } from '../../src/store/store.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-stuck-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const policy = { minIntervalMs: 1000, maxPerHour: 6, backoffBaseMs: 1000, backoffMaxMs: 60_000 };

async function setup(opts: { withBmc?: boolean; installing?: boolean } = {}) {
  const dir = tmp();
  let now = 1_700_000_000_000;
  const store = new Store(join(dir, 'rackboot.db'), { now: () => now });
  cleanups.push(() => store.close());
  const bmc = await new RedfishFake().start();
  bmc.machine.start('default');
  cleanups.push(async () => { await bmc.machine.stop(); await bmc.stop(); });
  const node: NodeSpec = {
    name: 'w1', mac: '52:54:00:00:00:21', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [],
    ...(opts.withBmc === false ? {} : { bmc: { address: `redfish+http://127.0.0.1:${bmc.port}`, username: 'root', bootMode: 'uefi' as const } }),
  };
  const inventory = { cluster: { name: 'c' }, nodes: [node] } as unknown as Inventory;
  store.syncInventory(inventory);
  writePassword(join(dir, 'bmc', 'w1.password'), bmc.password);
  const machine = new StateMachine(store);
  const auto = new AutoPower(store, {
    dataDir: dir, settings: () => DEFAULT_POWER_SETTINGS, policy, now: () => now, settleMs: 2000, pollMs: 50,
    installing: async (n) => opts.installing === true && n.state === 'installing',
  });
  cleanups.push(() => auto.close());
  const stuck: StuckRetry = { retry: (n, r) => auto.stuckRetry(n, r), clockStart: (n) => stepClockStart(store, n) };
  return { store, machine, auto, bmc, stuck, advance: (ms: number) => (now += ms), now: () => now };
}

describe('stuck provisioning retry through the BMC', () => {
  it('gives a node stuck booting one PXE-once + power-cycle, counts the timeout again from it, then fails it', async () => {
    const { store, machine, auto, bmc, stuck, advance, now } = await setup();
    machine.transition('w1', 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
    advance((DEFAULT_TIMEOUTS.booting + 1) * 1000);
    expect(sweepTimeouts(machine, DEFAULT_TIMEOUTS, now(), stuck)).toEqual([]);
    await auto.idle();
    expect(bmc.resets).toEqual(['PowerCycle']);
    expect(bmc.machine.log.at(-1)).toBe('start boot=pxe');
    expect(store.getNode('w1')).toMatchObject({ state: 'booting' });
    const retry = store.events({ node: 'w1' }).filter((e) => e.kind === 'stuck-retry');
    expect(retry).toHaveLength(1);
    expect(retry[0]!.message).toMatch(/^timed out: 10 min in booting .*: one retry, PXE-once and power-cycle through the BMC/);

    advance(DEFAULT_TIMEOUTS.booting * 1000 - 1000); // the step's clock restarted at the retry
    expect(sweepTimeouts(machine, DEFAULT_TIMEOUTS, now(), stuck)).toEqual([]);
    advance(2000);
    expect(sweepTimeouts(machine, DEFAULT_TIMEOUTS, now(), stuck)).toEqual(['w1']);
    await auto.idle();
    expect(bmc.resets).toEqual(['PowerCycle']); // one retry only
    expect(store.getNode('w1')).toMatchObject({ state: 'failed', failedStep: 'booting' });
  });

  it('fails at once, as before, a node without a BMC or not marked for install', async () => {
    const a = await setup({ withBmc: false });
    a.machine.transition('w1', 'booting', 'test', { markedForInstall: true });
    a.advance((DEFAULT_TIMEOUTS.booting + 1) * 1000);
    expect(sweepTimeouts(a.machine, DEFAULT_TIMEOUTS, a.now(), a.stuck)).toEqual(['w1']);

    const b = await setup();
    b.machine.transition('w1', 'booting', 'test', { markedForInstall: false });
    b.advance((DEFAULT_TIMEOUTS.booting + 1) * 1000);
    expect(sweepTimeouts(b.machine, DEFAULT_TIMEOUTS, b.now(), b.stuck)).toEqual(['w1']);
    await b.auto.idle();
    expect(b.bmc.resets).toEqual([]);
  });

  it('sends nothing to the BMC while the node\'s Talos API reports it is installing', async () => {
    const { store, machine, auto, bmc, stuck, advance, now } = await setup({ installing: true });
    machine.transition('w1', 'booting', 'test', { markedForInstall: true });
    machine.transition('w1', 'installing', 'config applied (test)');
    advance((DEFAULT_TIMEOUTS.installing + 1) * 1000);
    sweepTimeouts(machine, DEFAULT_TIMEOUTS, now(), stuck);
    await auto.idle();
    expect(bmc.resets).toEqual([]);
    const held = store.events({ node: 'w1' }).filter((e) => e.kind === 'power');
    expect(held.map((e) => e.data)).toEqual([expect.objectContaining({ denied: true, actor: 'stuck-retry' })]);
    expect(held[0]!.message).toMatch(/installing/);
  });
});
