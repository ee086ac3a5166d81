// IpmiBmc against a real IPMI 2.0 BMC (OpenIPMI's ipmi_sim) whose chassis
// control starts and stops a process standing in for the machine.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiBmc } from '../../src/bmc/ipmi.js';
import { BmcError } from '../../src/bmc/types.js';
import { freeUdpPort, startIpmiSim, type IpmiSim } from '../../src/lab/ipmi-sim.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-ipmi-');
let sim: IpmiSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const client = (s: IpmiSim, over: Partial<ConstructorParameters<typeof IpmiBmc>[0]> = {}) =>
  new IpmiBmc({ host: '127.0.0.1', port: s.port, username: s.username, password: s.password, retrySeconds: 2, retries: 2, cipherSuite: 3, ...over });

async function until(check: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (check()) return;
  throw new Error('condition not reached');
}

describe('IPMI over LAN against ipmi_sim', () => {
  it('the simulator is a BMC an independent client (ipmitool) can read', async () => {
    sim = await startIpmiSim(tmp());
    const { stdout } = await promisify(execFile)('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(sim.port), '-U', sim.username, '-E', 'chassis', 'power', 'status'], {
      env: { PATH: process.env.PATH, IPMI_PASSWORD: sim.password },
    });
    expect(stdout).toMatch(/Chassis Power is off/);
  });

  it('sets PXE once, powers on, cycles and powers off the machine process', async () => {
    sim = await startIpmiSim(tmp());
    const bmc = client(sim);
    expect(await bmc.powerStatus()).toBe('off');
    await bmc.pxeOnce('uefi');
    await bmc.power('on');
    await until(() => sim!.machinePid() !== undefined);
    expect(await bmc.powerStatus()).toBe('on');
    const first = sim.machinePid();
    await bmc.power('cycle');
    await until(() => sim!.machinePid() !== undefined && sim!.machinePid() !== first);
    // The PXE flag reached the first start only: the BMC's boot device is valid for one boot.
    expect(sim.events()).toEqual(['boot pxe', 'start boot=pxe', 'stop', 'start boot=default']);
    await bmc.power('off');
    await until(() => sim!.machinePid() === undefined);
    expect(await bmc.powerStatus()).toBe('off');
    // "cycle" on a machine that is off powers it on.
    await bmc.power('cycle');
    await until(() => sim!.machinePid() !== undefined);
    expect(sim.events().at(-1)).toBe('start boot=default');
  });

  it('lays a refused password on the credentials, silence on the network, a refused command on the BMC', async () => {
    sim = await startIpmiSim(tmp());
    const wrong = await client(sim, { password: 'not-the-password' }).powerStatus().catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(BmcError);
    expect(wrong).toMatchObject({ fault: 'credentials', message: expect.stringMatching(/refused user "admin"/) });
    const nobody = await client(sim, { port: await freeUdpPort(), retries: 1 }).powerStatus().catch((e: unknown) => e);
    expect(nobody).toMatchObject({ fault: 'network' });
    // ipmi_sim has no ACPI path to a process machine: it answers soft off with an error.
    const soft = await client(sim).power('soft').catch((e: unknown) => e);
    expect(soft).toMatchObject({ fault: 'bmc', message: expect.stringMatching(/Soft failed/) });
  });

  it('never puts the password in any process command line', async () => {
    const password = `pw${process.pid}x${Date.now() % 1e6}`; // IPMI 2.0 passwords are at most 20 bytes
    // A socket that reads and never answers, so ipmitool lives for its retries while we look.
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const bmc = new IpmiBmc({ host: '127.0.0.1', port: silent.address().port, username: 'admin', password, retrySeconds: 1, retries: 1 });
    const call = bmc.powerStatus().catch((e: unknown) => e);
    let seenIpmitool = false;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        let cmdline = '';
        try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
        if (cmdline.startsWith('ipmitool\0') && cmdline.includes('127.0.0.1')) seenIpmitool = true;
        expect(cmdline).not.toContain(password);
      }
    }
    expect(seenIpmitool).toBe(true);
    const err = await call;
    expect(err).toMatchObject({ fault: 'network' });
    expect(String((err as Error).message)).not.toContain(password);
    silent.close();
  });

  it('refuses a password longer than IPMI 2.0 allows before running anything', async () => {
    const err = await new IpmiBmc({ host: '127.0.0.1', port: 623, username: 'a', password: 'x'.repeat(21) }).powerStatus().catch((e: unknown) => e);
    expect(err).toMatchObject({ fault: 'config', message: expect.stringMatching(/at most 20 bytes/) });
  });
});
