// A real IPMI 2.0 BMC for the lab's machines and the tests: OpenIPMI's
// ipmi_sim (Debian openipmi) on a loopback UDP port, its chassis_control
// hook (chassis-control.ts) powering a machine that is a process: the
// `machine` executable in the state dir, started with the boot device the
// BMC held ("pxe" or "default").
// ipmi_sim's configuration format: ipmi_lan(5); its command file: ipmi_sim_cmd(5).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHASSIS_CONTROL_SCRIPT } from './chassis-control.js';

export interface IpmiSim {
  port: number;
  dir: string;
  username: string;
  password: string;
  /** Lines the chassis-control hook appended: "boot pxe", "start boot=pxe", "stop", "reset". */
  events(): string[];
  machinePid(): number | undefined;
  /** From now on the BMC accepts power commands and ignores them. */
  ignorePower(): void;
  stop(): Promise<void>;
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface IpmiSimOptions {
  /** The body of a shell script run as the machine; $1 is the boot device. */
  machine?: string;
  username?: string;
  password?: string;
  /** ipmi_sim also listens there (TCP, same address) for a VM's BMC link: QEMU's ipmi-bmc-extern over a socket chardev, ipmi_sim's "VM" serial codec. */
  vmPort?: number;
  /**
   * Serial-over-LAN: ipmi_sim connects to this TCP port (same address) as the
   * machine's serial port; a QEMU serial chardev listens there. ipmi_sim
   * connects at start and, while nothing listens, every 10 s; after a drop
   * again within a second (OpenIPMI lanserv/sol.c, sol_timeout).
   */
  solPort?: number;
  /** Default 127.0.0.1. */
  address?: string;
  port?: number;
  netns?: string;
}

export interface IpmiSimFiles { argv: string[]; port: number; address: string; machineDir: string; username: string; password: string }

/** Writes lan.conf, the command file, the chassis hook and the machine script; returns ipmi_sim's command line. */
export function writeIpmiSimFiles(dir: string, opts: IpmiSimOptions & { port: number }): IpmiSimFiles {
  const username = opts.username ?? 'admin';
  const password = opts.password ?? 'sim-pass-7f3a';
  const address = opts.address ?? '127.0.0.1';
  const machineDir = join(dir, 'machine');
  mkdirSync(join(dir, 'state'), { recursive: true });
  mkdirSync(machineDir, { recursive: true });
  writeFileSync(join(machineDir, 'machine'), `#!/bin/sh\n${opts.machine ?? 'exec sleep 600'}\n`);
  chmodSync(join(machineDir, 'machine'), 0o755);
  const hook = join(dir, 'chassis-control.sh');
  writeFileSync(hook, CHASSIS_CONTROL_SCRIPT);
  chmodSync(hook, 0o755);
  // lan.conf holds the BMC's password: readable by its owner only.
  writeFileSync(join(dir, 'lan.conf'), `name "rackboot-test"
set_working_mc 0x20
  startlan 1
    addr ${address} ${opts.port}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a1b2c3d4e5f60718293a4b5c6d7e8f90
  endlan
  chassis_control "${hook} ${machineDir}"
${opts.vmPort ? `  serial 15 ${address} ${opts.vmPort} codec VM\n` : ''}${opts.solPort ? `  sol "tcp:${address}:${opts.solPort}" 115200\n` : ''}  user 2 true "${username}" "${password}" admin 10 md5
`, { mode: 0o600 });
  // The BMC must be declared before it is added, or ipmi_sim 2.0.33 crashes on mc_add.
  writeFileSync(join(dir, 'sim.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n');
  const argv = ['ipmi_sim', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', join(dir, 'state'), '-n'];
  return { argv: opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv, port: opts.port, address, machineDir, username, password };
}

/** The pid of the machine the BMC has powered on, or undefined when it is off. */
export function machinePid(machineDir: string): number | undefined {
  const pidFile = join(machineDir, 'machine.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    // A zombie (killed, not yet reaped) is a machine that is off.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z') ? undefined : pid;
  } catch { return undefined; }
}

/** Lines the chassis-control hook appended: "boot pxe", "start boot=pxe", "stop", "reset". */
export function chassisEvents(machineDir: string): string[] {
  const file = join(machineDir, 'events');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

/** A BMC for a test: ipmi_sim as a child of this process. In a namespace, `ip netns exec` execs ipmi_sim in place, so the pid is ipmi_sim's. */
export async function startIpmiSim(dir: string, opts: IpmiSimOptions = {}): Promise<IpmiSim> {
  const f = writeIpmiSimFiles(dir, { ...opts, port: opts.port ?? (await freeUdpPort()) });
  const [cmd, ...args] = f.argv;
  const proc: ChildProcess = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d));
  proc.stderr!.on('data', (d: Buffer) => (output += d));
  await waitForUdpListener(f.address, f.port, proc.pid!, () => proc.exitCode !== null || proc.signalCode !== null, () => output);
  const { machineDir, port, username, password } = f;
  return {
    port, dir, username, password,
    events: () => chassisEvents(machineDir),
    machinePid: () => machinePid(machineDir),
    ignorePower: () => writeFileSync(join(machineDir, 'ignore-power'), ''),
    async stop() {
      const pid = machinePid(machineDir);
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      if (proc.exitCode === null) {
        proc.kill('SIGKILL');
        await new Promise((r) => proc.once('exit', r));
      }
    },
  };
}

/** ipmi_sim has bound ADDRESS:PORT once its own network namespace's UDP table lists it (/proc/net/udp: little-endian address). */
export async function waitForUdpListener(address: string, port: number, pid: number, exited: () => boolean, output: () => string): Promise<void> {
  const addr = address.split('.').reverse().map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0')).join('');
  const hex = `${addr}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 100; i++) {
    if (exited()) throw new Error(`ipmi_sim exited: ${output()}`);
    try {
      if (readFileSync(`/proc/${pid}/net/udp`, 'utf8').includes(` ${hex} `)) return;
    } catch { /* still exec'ing */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`ipmi_sim did not bind ${address}:${port}: ${output()}`);
}
