// operateNode over IPMI: ipmi_sim as the BMC, including one that accepts
// power commands and ignores them, and one behind a slow link.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePassword } from '../../src/bmc/credentials.js';
import { operateNode } from '../../src/bmc/operate.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { startIpmiSim, type IpmiSim } from '../../src/lab/ipmi-sim.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-operate-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function nodeFor(port: number): NodeSpec {
  return {
    name: 'n1', mac: '52:54:00:00:00:01', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [],
    bmc: { address: `ipmi://127.0.0.1:${port}`, username: 'admin', bootMode: 'uefi', ipmiCipherSuite: 3 },
  };
}

async function withSim(): Promise<{ sim: IpmiSim; dataDir: string }> {
  const dataDir = tmp();
  const sim = await startIpmiSim(tmp());
  cleanups.push(() => sim.stop());
  writePassword(join(dataDir, 'bmc', 'n1.password'), sim.password);
  return { sim, dataDir };
}

/** A UDP relay that holds every datagram for `delayMs`: a BMC behind a slow link. */
async function slowRelay(target: number, delayMs: number): Promise<number> {
  const relay = createSocket('udp4');
  const upstream = createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  relay.on('message', (msg, from) => {
    client = { address: from.address, port: from.port };
    setTimeout(() => upstream.send(msg, target, '127.0.0.1'), delayMs);
  });
  upstream.on('message', (msg) => setTimeout(() => client && relay.send(msg, client.port, client.address), delayMs));
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => { relay.close(); upstream.close(); });
  return relay.address().port;
}

describe('operateNode over IPMI', () => {
  it('a BMC that accepts power on and ignores it is a bmc fault after the settle time', async () => {
    const { sim, dataDir } = await withSim();
    sim.ignorePower();
    const out = await operateNode(undefined, nodeFor(sim.port), 'on', { dataDir, actor: 'test', settleMs: 1000, pollMs: 200 });
    expect(out).toMatchObject({ ok: false, fault: 'bmc', state: 'off' });
    expect(out.message).toMatch(/accepted power on but the machine still reports off after 1 s/);
    expect(sim.machinePid()).toBeUndefined();
  });

  it('a BMC behind a link slower than the time limit is a network fault; a tolerable delay works', async () => {
    const { sim, dataDir } = await withSim();
    const tolerable = await slowRelay(sim.port, 100);
    expect(await operateNode(undefined, nodeFor(tolerable), 'status', { dataDir, actor: 'test', timeoutMs: 8000 })).toMatchObject({ ok: true, state: 'off' });
    const slow = await slowRelay(sim.port, 1500);
    const started = Date.now();
    const out = await operateNode(undefined, nodeFor(slow), 'status', { dataDir, actor: 'test', timeoutMs: 2000 });
    expect(out).toMatchObject({ ok: false, fault: 'network' });
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
