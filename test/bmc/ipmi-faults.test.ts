// A BMC whose packets are dropped: ipmi_sim and the client share a network
// namespace made here, and an nftables rule in it drops the BMC's UDP port.
// The client runs inside the namespace (the built dist/ module), so every
// packet stays in the namespace.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startIpmiSim, type IpmiSim } from '../../src/lab/ipmi-sim.js';
import { Netns, uniqueSuffix } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';

const IPMI_MODULE = fileURLToPath(new URL('../../dist/bmc/ipmi.js', import.meta.url));
const tmp = tempDirs('rackboot-ipmi-drop-');
let sim: IpmiSim | undefined;
let ns: Netns | undefined;
afterEach(async () => {
  await sim?.stop();
  await ns?.destroy();
  sim = undefined;
  ns = undefined;
});

/** powerStatus() from inside the namespace; resolves with the state or the fault. */
async function statusInside(netns: string, s: IpmiSim): Promise<{ state?: string; fault?: string; message?: string; ms: number }> {
  const script = `
    const { IpmiBmc } = await import(${JSON.stringify(IPMI_MODULE)});
    const bmc = new IpmiBmc({ host: '127.0.0.1', port: ${s.port}, username: ${JSON.stringify(s.username)}, password: process.env.SIM_PASSWORD, cipherSuite: 3, retrySeconds: 1, retries: 1 });
    const t = Date.now();
    try { console.log(JSON.stringify({ state: await bmc.powerStatus(), ms: Date.now() - t })); }
    catch (e) { console.log(JSON.stringify({ fault: e.fault, message: e.message, ms: Date.now() - t })); }`;
  const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script], {
    env: { ...process.env, SIM_PASSWORD: s.password }, timeout: 30_000,
  });
  return JSON.parse(stdout.trim()) as { state?: string; fault?: string; message?: string; ms: number };
}

describe('IPMI BMC behind a packet-dropping firewall', () => {
  it('answers until nftables drops its port, then fails as a network fault within its time limit', async () => {
    ns = Netns.create(`rbbmc${uniqueSuffix()}`);
    sim = await startIpmiSim(tmp(), { netns: ns.name, port: 623 });
    expect(await statusInside(ns.name, sim)).toMatchObject({ state: 'off' });
    ns.exec('nft', ['-f', '-'], { input: `table inet bmcfault {\n  chain input { type filter hook input priority 0; udp dport ${sim.port} drop; }\n}\n` });
    const dropped = await statusInside(ns.name, sim);
    expect(dropped).toMatchObject({ fault: 'network', message: expect.stringMatching(/no RMCP\+ session/) });
    expect(dropped.ms).toBeLessThan(10_000);
  }, 60_000);
});
