// The reimage fallback, end to end over loopback: orchestrator passes
// against fake Talos nodes whose Reset fails, and a Redfish fake as the BMC.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoPower } from '../../src/bmc/auto-power.js';
import type { NodeBmcSpec } from '../../src/inventory/types.js';
import { writePassword } from '../../src/bmc/credentials.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { DEFAULT_POWER_SETTINGS, type PowerSettings } from '../../src/settings/settings.js';
import { startIpmiSim } from '../../src/lab/ipmi-sim.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { makeRack, pxeBooted, type Rack } from '../talos/cluster-fixture.js';
import { waitFor } from '../talos/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const policy = { minIntervalMs: 60_000, maxPerHour: 6, backoffBaseMs: 30_000, backoffMaxMs: 600_000 };

async function redfish(): Promise<RedfishFake> {
  const fake = await new RedfishFake().start();
  fake.machine.start('default'); // the node is running (hung), as a reimage finds it
  cleanups.push(async () => { await fake.machine.stop(); await fake.stop(); });
  return fake;
}

/** A rack whose nodes are installed, then marked for reimage, with Reset refused by Talos. */
async function rackMarked(roles: ('worker' | 'controlplane')[], bmc: Record<string, string | NodeBmcSpec>): Promise<Rack> {
  const specOf = (b: string | NodeBmcSpec | undefined): NodeBmcSpec | undefined => (typeof b === 'string' ? { address: b, username: 'root', bootMode: 'uefi' } : b);
  const rack = await makeRack(roles, { bmc: (name) => specOf(bmc[name]) });
  cleanups.push(() => rack.close());
  pxeBooted(rack, ...rack.fakes.keys());
  const orch = rack.orchestrator();
  const installed = () => [...rack.fakes.keys()].every((n) => ['installed', 'ready'].includes(rack.store.getNode(n)!.state));
  for (let i = 0; i < 40 && !installed(); i++) await orch.pass();
  await orch.close();
  expect(installed()).toBe(true);
  for (const [name, fake] of rack.fakes) {
    fake.faults.status.Reset = { code: GrpcStatus.UNAVAILABLE, details: 'disk I/O error', times: 1000 };
    new Reimager(new StateMachine(rack.store)).mark(name, 'dead disk', 'test');
  }
  return rack;
}

function autoPower(rack: Rack, settings: Partial<PowerSettings>): AutoPower {
  const auto = new AutoPower(rack.store, {
    dataDir: rack.dir, settings: () => ({ ...DEFAULT_POWER_SETTINGS, ...settings }), policy, settleMs: 2000, pollMs: 50,
  });
  cleanups.push(() => auto.close());
  return auto;
}

const steps = (rack: Rack, node: string) => rack.store.events({ node }).filter((e) => e.kind === 'reimage').map((e) => (e.data as { step: string }).step);

describe('reimage fallback through the BMC', () => {
  it('after the set number of failed Resets, sets PXE-once and power-cycles the node once; it stays marked for install', async () => {
    const bmc = await redfish();
    const rack = await rackMarked(['worker'], { w1: `redfish+http://127.0.0.1:${bmc.port}` });
    writePassword(join(rack.dir, 'bmc', 'w1.password'), bmc.password);
    const auto = autoPower(rack, { resetFallbackAttempts: 2, resetFallbackSeconds: 0 });
    const orch = rack.orchestrator({ resetFallback: auto });
    cleanups.push(() => orch.close());

    expect((await orch.pass()).resets).toEqual([{ node: 'w1', result: 'waiting', reason: expect.stringMatching(/disk I\/O error/) }]);
    await auto.idle();
    expect(bmc.resets).toEqual([]); // one failed Reset: not yet
    await orch.pass();
    await auto.idle();
    expect(bmc.resets).toEqual(['PowerCycle']);
    expect(bmc.machine.log).toEqual(['start boot=default', 'stop', 'start boot=pxe']);
    await orch.pass();
    await orch.pass();
    await auto.idle();
    expect(bmc.resets).toEqual(['PowerCycle']); // exactly one power-cycle per reimage
    expect(rack.store.getNode('w1')).toMatchObject({ state: 'reimage-pending', markedForInstall: true });
    expect(steps(rack, 'w1')).toEqual(['requested', 'bmc-fallback', 'bmc-cycled']);
    const power = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'power').map((e) => e.data);
    expect(power).toEqual([{ request: 'cycle', actor: 'reimage-fallback', ok: true, pxeFirst: true }]);
  });

  it('a node whose Reset hangs past the call\'s deadline is power-cycled the same way', async () => {
    const bmc = await redfish();
    const rack = await rackMarked(['worker'], { w1: `redfish+http://127.0.0.1:${bmc.port}` });
    const fake = rack.fakes.get('w1')!;
    delete fake.faults.status.Reset;
    fake.faults.delayMs.Reset = 5000; // longer than the client's 1.5 s deadline: a hung node
    writePassword(join(rack.dir, 'bmc', 'w1.password'), bmc.password);
    const auto = autoPower(rack, { resetFallbackAttempts: 1, resetFallbackSeconds: 0 });
    const orch = rack.orchestrator({ resetFallback: auto });
    cleanups.push(() => orch.close());
    expect((await orch.pass()).resets).toEqual([{ node: 'w1', result: 'waiting', reason: expect.stringMatching(/deadline|timed? ?out/i) }]);
    await auto.idle();
    expect(bmc.resets).toEqual(['PowerCycle']);
    expect(bmc.machine.log.at(-1)).toBe('start boot=pxe');
  });

  it('works the same through IPMI (ipmi_sim, a real IPMI 2.0 BMC)', async () => {
    const sim = await startIpmiSim(mkdtempSync(join(tmpdir(), 'rackboot-fallback-ipmi-')));
    cleanups.push(() => sim.stop());
    // Cipher suite 3 named: ipmi_sim does not answer ipmitool's query for its suites.
    const rack = await rackMarked(['worker'], { w1: { address: `ipmi://127.0.0.1:${sim.port}`, username: sim.username, bootMode: 'uefi', ipmiCipherSuite: 3 } });
    writePassword(join(rack.dir, 'bmc', 'w1.password'), sim.password);
    const auto = autoPower(rack, { resetFallbackAttempts: 1, resetFallbackSeconds: 0 });
    const orch = rack.orchestrator({ resetFallback: auto });
    cleanups.push(() => orch.close());
    await orch.pass();
    await auto.idle();
    await waitFor(() => sim.machinePid() !== undefined, 5000, 'the machine to start');
    // The machine was off: cycle powers it on, from the network this once.
    expect(sim.events()).toEqual(['boot pxe', 'start boot=pxe']);
    expect(steps(rack, 'w1')).toEqual(['requested', 'bmc-fallback', 'bmc-cycled']);
  });

  it('a node without a BMC keeps the power-cycle-by-hand message, once', async () => {
    const rack = await rackMarked(['worker'], {});
    const auto = autoPower(rack, { resetFallbackAttempts: 1, resetFallbackSeconds: 0 });
    const orch = rack.orchestrator({ resetFallback: auto });
    cleanups.push(() => orch.close());
    await orch.pass();
    await orch.pass();
    const told = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'reimage' && (e.data as { step: string }).step === 'power-by-hand');
    expect(told.map((e) => e.message)).toEqual(['Talos refused or did not answer Reset 1 times; w1 has no bmc in the inventory: power-cycle it by hand, its next PXE boot installs afresh']);
  });

  it('a BMC that never answers stalls neither the pass nor the other node', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { sockets.forEach((s) => s.destroy()); silent.close(r); }));
    const port = (silent.address() as { port: number }).port;
    const bmc = await redfish();
    const rack = await rackMarked(['worker', 'worker'], { w1: `redfish+http://127.0.0.1:${port}`, w2: `redfish+http://127.0.0.1:${bmc.port}` });
    for (const n of ['w1', 'w2']) writePassword(join(rack.dir, 'bmc', `${n}.password`), bmc.password);
    const auto = autoPower(rack, { resetFallbackAttempts: 1, resetFallbackSeconds: 0, bmcTimeoutSeconds: 4 });
    const orch = rack.orchestrator({ resetFallback: auto });
    cleanups.push(() => orch.close());
    await orch.pass();
    const t0 = Date.now();
    await orch.pass(); // the hung BMC call is in flight from the first pass
    expect(Date.now() - t0).toBeLessThan(2000);
    await waitFor(() => bmc.resets.length === 1, 3000, 'w2 power-cycled');
    expect(bmc.resets).toEqual(['PowerCycle']);
    await auto.idle();
    const failed = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'power').map((e) => e.data as { ok: boolean; fault: string });
    expect(failed).toEqual([expect.objectContaining({ ok: false, fault: 'network' })]);
    expect(steps(rack, 'w1')).toEqual(['requested', 'bmc-fallback', 'bmc-failed']);
  });
});
