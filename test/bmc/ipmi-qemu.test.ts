// The IPMI rig with a real machine: ipmi_sim's chassis control starts
// and stops a QEMU process (booting from the network when the BMC's boot
// device was PXE, from disk otherwise), and QEMU joins the simulator as its
// BMC over ipmi-bmc-extern + isa-ipmi-kcs. Driven only through IpmiBmc.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiBmc } from '../../src/bmc/ipmi.js';
import { startIpmiSim, type IpmiSim } from '../../src/lab/ipmi-sim.js';
import { tempDirs } from '../helpers/tmp.js';
import { freeTcpPort, qmp, until } from '../helpers/qmp.js';

const tmp = tempDirs('rackboot-ipmi-qemu-');
let sim: IpmiSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

describe('IPMI BMC driving a QEMU machine', () => {
  it('power on after PXE-once starts QEMU booting from the network, joined to its BMC; off stops it', async () => {
    const dir = tmp();
    const vmPort = await freeTcpPort();
    const qmpSocket = join(dir, 'qmp.sock');
    sim = await startIpmiSim(dir, {
      vmPort,
      machine: `case "$1" in pxe) order=n ;; *) order=c ;; esac
exec qemu-system-x86_64 -nodefaults -display none -machine pc,accel=tcg -m 64 -boot order=$order -net none \\
  -chardev socket,id=ipmi0,host=127.0.0.1,port=${vmPort},reconnect=10 \\
  -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 \\
  -qmp unix:${qmpSocket},server=on,wait=off`,
    });
    const bmc = new IpmiBmc({ host: '127.0.0.1', port: sim.port, username: sim.username, password: sim.password, cipherSuite: 3, retrySeconds: 1, retries: 2 });
    await bmc.pxeOnce('legacy');
    await bmc.power('on');
    await until(() => sim!.machinePid() !== undefined);
    const pid = sim.machinePid()!;
    const isQemu = (p: number) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('qemu-system-x86_64');
    await until(() => isQemu(pid)); // the machine script execs QEMU
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['qemu-system-x86_64', 'order=n']));
    await until(async () => (await qmp(qmpSocket, 'query-status')).status === 'running');
    // QEMU's BMC link reached the simulator: a TCP connection from QEMU to the VM port.
    await until(() => readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => l.includes(`:${vmPort.toString(16).toUpperCase().padStart(4, '0')} `) && l.split(/\s+/)[4] === '01'));
    expect(await bmc.powerStatus()).toBe('on');
    await bmc.power('off');
    await until(() => sim!.machinePid() === undefined);
    expect(await bmc.powerStatus()).toBe('off');
    // The PXE flag was for one boot: the next power on boots from disk.
    await bmc.power('on');
    await until(() => sim!.machinePid() !== undefined && isQemu(sim!.machinePid()!));
    expect(readFileSync(`/proc/${sim.machinePid()!}/cmdline`, 'utf8').split('\0')).toContain('order=c');
    expect(sim.events()).toEqual(['boot pxe', 'start boot=pxe', 'stop', 'start boot=default']);
  }, 60_000);
});
