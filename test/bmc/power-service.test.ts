// The guarded power path automatic callers will use, against the Redfish
// fake, with the store's clock under the test's control.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePassword } from '../../src/bmc/credentials.js';
import { GuardedPower, powerOnInWaves } from '../../src/bmc/power-service.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { Store } from '../../src/store/store.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-guarded-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const spec = (name: string, address: string): NodeSpec => ({
  name, mac: '52:54:00:00:00:01', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [],
  bmc: { address, username: 'root', bootMode: 'uefi' },
});

const policy = { minIntervalMs: 60_000, maxPerHour: 6, backoffBaseMs: 120_000, backoffMaxMs: 600_000 };

describe('guarded BMC power', () => {
  it('PXE-cycles a node, holds back a second try inside the minimum interval (recorded, nothing sent), allows it after', async () => {
    const dir = tmp();
    let now = 1_700_000_000_000;
    const store = new Store(join(dir, 'rackboot.db'), { now: () => now });
    cleanups.push(() => store.close());
    const fake = await new RedfishFake().start();
    cleanups.push(() => fake.stop());
    const node = spec('n1', `redfish+http://127.0.0.1:${fake.port}`);
    writePassword(join(dir, 'bmc', 'n1.password'), fake.password);
    const power = new GuardedPower(store, { dataDir: dir, policy, now: () => now, settleMs: 2000, pollMs: 100 });

    expect(await power.pxeCycle(node, 'reimage')).toMatchObject({ ok: true });
    expect(fake.machine.log).toEqual(['start boot=pxe']);
    now += 30_000;
    const held = await power.pxeCycle(node, 'reimage');
    expect(held).toMatchObject({ ok: false, denied: { retryAt: 1_700_000_060_000 } });
    expect(held.message).toMatch(/held back by the loop guards: last power action 30 s ago \(minimum interval 60 s\)/);
    expect(fake.resets).toEqual(['On']); // nothing reached the BMC
    now += 31_000;
    expect(await power.pxeCycle(node, 'reimage')).toMatchObject({ ok: true });
    expect(fake.resets).toEqual(['On', 'PowerCycle']);
    const events = store.events({ node: 'n1' }).filter((e) => e.kind === 'power').map((e) => e.data as Record<string, unknown>);
    expect(events.map((e) => [e.request, e.ok, e.denied ?? false])).toEqual([['cycle', true, false], ['cycle', false, true], ['cycle', true, false]]);
  });

  it('backs off after BMC errors and takes no action while the node is installing', async () => {
    const dir = tmp();
    let now = 1_700_000_000_000;
    const store = new Store(join(dir, 'rackboot.db'), { now: () => now });
    cleanups.push(() => store.close());
    const fake = await new RedfishFake({ password: 'the-real-one' }).start();
    cleanups.push(() => fake.stop());
    const node = spec('n1', `redfish+http://127.0.0.1:${fake.port}`);
    writePassword(join(dir, 'bmc', 'n1.password'), 'a-wrong-one');
    const power = new GuardedPower(store, { dataDir: dir, policy, now: () => now });
    expect(await power.act(node, 'on', 'auto')).toMatchObject({ ok: false, fault: 'credentials' });
    now += 61_000; // past the interval, inside the 120 s backoff after one failure
    const held = await power.act(node, 'on', 'auto');
    expect(held.denied?.reason).toMatch(/1 failed BMC attempt in a row \(backing off 120 s\)/);
    now += 60_000;
    writePassword(join(dir, 'bmc', 'n1.password'), 'the-real-one');
    expect(await power.act(node, 'on', 'auto', { installing: true })).toMatchObject({ ok: false, denied: { reason: expect.stringMatching(/installing/) } });
    expect(await power.act(node, 'on', 'auto')).toMatchObject({ ok: true });
  });

  it('powers a rack on in waves with a pause between them, and a failure does not stop the waves', async () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((n) => spec(n, 'ipmi://127.0.0.1'));
    const log: string[] = [];
    const outcomes = await powerOnInWaves(nodes, { waveSize: 2, intervalMs: 5000 }, async (n) => {
      log.push(`on ${n.name}`);
      return { node: n.name, ok: n.name !== 'b', message: n.name === 'b' ? 'network fault' : 'power on' };
    }, async (ms) => { log.push(`sleep ${ms}`); });
    expect(log).toEqual(['on a', 'on b', 'sleep 5000', 'on c', 'on d', 'sleep 5000', 'on e']);
    expect(outcomes.map((o) => [o.node, o.ok])).toEqual([['a', true], ['b', false], ['c', true], ['d', true], ['e', true]]);
  });
});
