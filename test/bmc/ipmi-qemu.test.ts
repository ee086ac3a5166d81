// The IPMI rig with a real machine: ipmi_sim's chassis control starts
// and stops a QEMU process (booting from the network when the BMC's boot
// device was PXE, from disk otherwise), and QEMU joins the simulator as its
// BMC over ipmi-bmc-extern + isa-ipmi-kcs. Driven only through IpmiBmc.
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiBmc } from '../../src/bmc/ipmi.js';
import { startIpmiSim, type IpmiSim } from '../fakes/ipmi/sim.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-ipmi-qemu-');
let sim: IpmiSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One QMP command on a fresh connection; resolves with its "return". */
function qmp(socket: string, command: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`QMP ${command}: no answer`)); }, 5000);
    c.on('error', reject);
    c.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        if ('QMP' in msg) c.write('{"execute":"qmp_capabilities"}\n');
        else if ('return' in msg && !sent) { sent = true; c.write(JSON.stringify({ execute: command }) + '\n'); }
        else if ('return' in msg) { clearTimeout(timer); c.end(); resolve(msg.return as Record<string, unknown>); }
      }
    });
  });
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    try { if (await check()) return; } catch { /* not yet */ }
  }
  throw new Error('condition not reached');
}

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
    await until(() => sim!.machinePid() !== undefined);
    expect(readFileSync(`/proc/${sim.machinePid()!}/cmdline`, 'utf8').split('\0')).toContain('order=c');
    expect(sim.events()).toEqual(['boot pxe', 'start boot=pxe', 'stop', 'start boot=default']);
  }, 60_000);
});
