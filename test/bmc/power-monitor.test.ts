// The page's power poller against Redfish fakes on loopback: a slow BMC and
// one that refuses the password are read in the same round as a healthy one,
// each bounded in time, and neither holds up the healthy node.
import { afterEach, describe, expect, it } from 'vitest';
import { PowerMonitor } from '../../src/bmc/power-monitor.js';
import { passwordPath, writePassword } from '../../src/bmc/credentials.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import type { PowerOutcome } from '../../src/bmc/operate.js';
import { RedfishFake } from '../fakes/redfish/service.js';
import { nodeSpec } from '../lifecycle/fixtures.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-power-monitor-');
const fakes: RedfishFake[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.stop();
});

async function fake(opts: ConstructorParameters<typeof RedfishFake>[0] = {}): Promise<RedfishFake> {
  const f = await new RedfishFake(opts).start();
  fakes.push(f);
  return f;
}

function bmcNode(dataDir: string, name: string, f: RedfishFake, password = f.password): NodeSpec {
  writePassword(passwordPath(dataDir, name), password);
  return nodeSpec(name, `52:54:00:00:01:0${name.length % 10}`, 'worker', { bmc: { address: `redfish+http://127.0.0.1:${f.port}`, username: f.username, bootMode: 'uefi' } });
}

describe('PowerMonitor', () => {
  it('reads every BMC in one round: a slow and a refusing BMC fail with their fault, bounded, without holding up the healthy one', async () => {
    const dataDir = tmp();
    const good = await fake();
    good.machine.start('default');
    // Each answer under the per-call limit, but a status read is several calls: only the whole-read deadline stops it.
    const slow = await fake({ delayMs: 600 });
    const refusing = await fake();
    const nodes = [bmcNode(dataDir, 'slow', slow), bmcNode(dataDir, 'good', good), bmcNode(dataDir, 'refusing', refusing, 'not-the-password'), nodeSpec('plain', '52:54:00:00:01:99')];
    const monitor = new PowerMonitor({ dataDir, nodes: () => nodes, timeoutMs: 1500 });
    const t0 = Date.now();
    await monitor.pollOnce();
    const took = Date.now() - t0;
    const [slowView, goodView, refusingView, plainView] = nodes.map((n) => monitor.view(n));

    expect(goodView).toMatchObject({ state: 'on', reachable: true, fault: null, error: null });
    expect(goodView!.readAt! - t0).toBeLessThan(1000);
    expect(slowView).toMatchObject({ state: 'unknown', reachable: false, fault: 'network' });
    expect(slowView!.error).toMatch(/^network fault \(the BMC did not answer\): redfish\+http:\/\/127\.0\.0\.1:\d+: no answer within 1.5 s$/);
    expect(slowView!.readAt! - t0).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(3000);
    expect(refusingView).toMatchObject({ state: 'unknown', reachable: true, fault: 'credentials' });
    expect(refusingView!.error).toMatch(/^credentials refused by the BMC: .*refused user "root" or its password \(401/);
    expect(plainView).toBeNull();
    expect(good.requests.some((r) => r.startsWith('GET /redfish/v1/Systems/1 200'))).toBe(true);
  });

  it('keeps the last good state beside a failure, and forgets readings of a changed address', async () => {
    const dataDir = tmp();
    const f = await fake();
    const node = bmcNode(dataDir, 'n1', f);
    const monitor = new PowerMonitor({ dataDir, nodes: () => [node], timeoutMs: 2000 });
    await monitor.pollOnce();
    expect(monitor.view(node)).toMatchObject({ state: 'off', reachable: true });
    const v1 = monitor.version;
    writePassword(passwordPath(dataDir, 'n1'), 'wrong-now');
    await monitor.pollOnce();
    const failed = monitor.view(node)!;
    expect(failed).toMatchObject({ state: 'unknown', fault: 'credentials', lastKnown: { state: 'off' } });
    expect(monitor.version).toBeGreaterThan(v1);
    const moved = { ...node, bmc: { ...node.bmc!, address: 'redfish+http://127.0.0.1:1' } };
    expect(monitor.view(moved)).toMatchObject({ state: 'unknown', readAt: null, reachable: null, lastKnown: null });
  });

  it('does not ask a BMC again while its last read is still running; the others are read every round', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    const nodes = ['stuck', 'fine'].map((n, i) => nodeSpec(n, `52:54:00:00:02:0${i}`, 'worker', { bmc: { address: `ipmi://10.0.0.${i + 1}`, username: 'u', bootMode: 'uefi' } }));
    const read = async (n: NodeSpec): Promise<PowerOutcome> => {
      calls.push(n.name);
      if (n.name === 'stuck') await hung;
      return { node: n.name, ok: true, state: 'on', message: '' };
    };
    const monitor = new PowerMonitor({ dataDir: '/nonexistent', nodes: () => nodes, timeoutMs: 200, read });
    await monitor.pollOnce();
    await monitor.pollOnce();
    expect(calls).toEqual(['stuck', 'fine', 'fine']);
    expect(monitor.view(nodes[0]!)).toMatchObject({ state: 'unknown', fault: 'network', reachable: false });
    expect(monitor.view(nodes[1]!)).toMatchObject({ state: 'on' });
    release();
    await new Promise((r) => setTimeout(r, 10));
    await monitor.pollOnce();
    expect(calls.filter((c) => c === 'stuck')).toHaveLength(2);
  });
});
