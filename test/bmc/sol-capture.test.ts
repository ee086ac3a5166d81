// Serial-over-LAN capture against a real BMC: OpenIPMI's ipmi_sim with its
// SOL port connected to a TCP server standing in for the machine's serial
// port (as QEMU's serial chardev does in the lab). The capture is started
// by a stored power event, as any actor's PXE power action leaves one.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleLog } from '../../src/console/buffer.js';
import { writePassword } from '../../src/bmc/credentials.js';
import { SOL_EVENT, SOL_SOURCE, SolCapture } from '../../src/bmc/sol-capture.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { startIpmiSim } from '../../src/lab/ipmi-sim.js';
import { Store } from '../../src/store/store.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-sol-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(check: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (check()) return;
  throw new Error('condition not reached');
}

/** The machine's serial port: writes a numbered firmware-style line (with colour codes) every 100 ms to whoever connects. */
async function serialPort(): Promise<Server> {
  let n = 0;
  const server = createServer((sock: Socket) => {
    const t = setInterval(() => sock.write(`\x1b[0;1mfirmware line ${++n}\x1b[0m\r\n`), 100);
    sock.on('close', () => clearInterval(t));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return server;
}

async function rig(opts: { password?: string; seconds?: number } = {}) {
  const serial = await serialPort();
  const solPort = (serial.address() as { port: number }).port;
  // The serial port listens before the BMC starts, so ipmi_sim connects to it at once.
  const sim = await startIpmiSim(tmp(), { solPort });
  cleanups.push(() => sim.stop());
  const dataDir = tmp();
  writePassword(join(dataDir, 'bmc', 'n1.password'), opts.password ?? sim.password);
  const store = new Store(join(dataDir, 'rackboot.db'));
  cleanups.push(() => store.close());
  const node: NodeSpec = {
    name: 'n1', mac: '52:54:00:00:00:01', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [],
    bmc: { address: `ipmi://127.0.0.1:${sim.port}`, username: sim.username, bootMode: 'legacy', ipmiCipherSuite: 3 },
  };
  const consoleLog = new ConsoleLog(200);
  const capture = new SolCapture({ store, console: consoleLog, dataDir, nodes: () => [node], seconds: () => opts.seconds ?? 60, timeoutMs: 8000, pollMs: 100 });
  capture.start();
  cleanups.push(() => capture.close());
  const powerEvent = (data: Record<string, unknown>) => store.appendEvent({ node: 'n1', mac: node.mac, kind: 'power', message: 'power by test', data });
  const solEvents = () => store.events({ node: 'n1' }).filter((e) => e.kind === SOL_EVENT).map((e) => e.message);
  const solLines = () => consoleLog.lines('n1').filter((l) => l.fields.source === SOL_SOURCE);
  return { sim, store, node, consoleLog, capture, powerEvent, solEvents, solLines };
}

/** Command lines of running ipmitool processes. */
function ipmitoolCmdlines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('ipmitool\0')) out.push(cmd.replace(/\0/g, ' '));
    } catch { /* gone */ }
  }
  return out;
}

describe('Serial-over-LAN capture through ipmi_sim', () => {
  it('a power cycle with PXE starts one session; its lines land in the console marked sol; the Talos kernel log ends it and frees the BMC slot', async () => {
    const r = await rig();
    // A power action without PXE, or one the BMC refused, starts nothing.
    r.powerEvent({ request: 'cycle', ok: true, pxeFirst: false, actor: 'cli' });
    r.powerEvent({ request: 'on', ok: false, pxeFirst: true, actor: 'cli' });
    await new Promise((res) => setTimeout(res, 500));
    expect(r.capture.active()).toEqual([]);

    r.powerEvent({ request: 'cycle', ok: true, pxeFirst: true, actor: 'cli' });
    await until(() => r.solLines().length >= 3);
    expect(r.solLines()[0]!.msg).toMatch(/^firmware line \d+$/);
    // The password is in no process's command line.
    const cmdlines = ipmitoolCmdlines().filter((c) => c.includes('sol activate'));
    expect(cmdlines.length, 'no ipmitool sol session running').toBe(1);
    expect(cmdlines[0]).not.toContain(r.sim.password);
    // A second PXE action while the session runs does not start another.
    r.powerEvent({ request: 'on', ok: true, pxeFirst: true, actor: 'api' });
    await new Promise((res) => setTimeout(res, 500));
    expect(r.solEvents().filter((m) => m.includes('capture started'))).toHaveLength(1);

    // Talos's kernel log arrives: the serial console is no longer needed.
    r.consoleLog.add('n1', { at: Date.now(), msg: '[talos] task startAllServices', fields: { msg: '[talos] task startAllServices' } });
    await until(() => r.capture.active().length === 0);
    await until(() => r.solEvents().some((m) => m.includes('ended: the Talos kernel log took over')));
    await until(() => ipmitoolCmdlines().every((c) => !c.includes('sol activate')), 5000);

    // The session was deactivated, not abandoned: the BMC takes a new one at once.
    const before = r.solLines().length;
    await r.capture.beforePower(r.node, 'test');
    await until(() => r.solLines().length > before + 2);
    expect(r.solEvents().filter((m) => m.includes('capture started'))).toHaveLength(2);
  });

  it('a BMC that refuses the credentials is a sol event, not a crash; nothing stays running', async () => {
    const r = await rig({ password: 'not-the-password' });
    r.powerEvent({ request: 'cycle', ok: true, pxeFirst: true, actor: 'cli' });
    await until(() => r.solEvents().some((m) => m.startsWith('Serial-over-LAN refused by ipmi://127.0.0.1')));
    expect(r.capture.active()).toEqual([]);
    expect(r.solLines()).toEqual([]);
    expect(r.solEvents().join('\n')).not.toContain('not-the-password');
  });

  it('ends at its time bound (bmc.solSeconds)', async () => {
    const r = await rig({ seconds: 2 });
    r.powerEvent({ request: 'on', ok: true, pxeFirst: true, actor: 'cli' });
    await until(() => r.solLines().length > 0);
    await until(() => r.solEvents().some((m) => m.includes('its 2 s bound (bmc.solSeconds) was reached')), 10_000);
    expect(r.capture.active()).toEqual([]);
  });
});
