// Every lab machine has a BMC: an OpenIPMI ipmi_sim inside the lab's
// namespace whose chassis hook starts and stops the machine's QEMU (booting
// from the network when the BMC's next-boot device is PXE, or when there is
// no disk), with QEMU joined to it as its KCS BMC. rackboot reaches it as
// `ipmi://ADDRESS` like any server's BMC; the lab never starts QEMU itself.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chassisEvents, machinePid, waitForUdpListener, writeIpmiSimFiles } from './ipmi-sim.js';
import { QEMU, qemuArgs, type VmSpec } from './qemu.js';

export const LAB_BMC_USER = 'admin';
/** ipmi_sim does not answer ipmitool's cipher-suite query (each call would wait out a timeout): suite 3 (HMAC-SHA1, AES-CBC-128) is fixed. */
export const LAB_CIPHER_SUITE = 3;
/** IPMI over LAN's own port: each BMC has its own loopback address in the namespace. */
export const IPMI_PORT = 623;
/** Where ipmi_sim waits for QEMU's BMC link (TCP, same address). */
const VM_LINK_PORT = 9002;
/** Where the machine's serial port listens for its BMC's Serial-over-LAN (TCP, same address). */
const SOL_PORT = 9003;

export interface LabBmc {
  /** ipmi://ADDRESS, as the inventory names it. */
  address: string;
  host: string;
  /** ipmi_sim's state, its chassis log and the machine's pid file. */
  dir: string;
  /** ipmi_sim's pid (0 until started). */
  pid: number;
  /** The machine's QMP socket. */
  qmpSocket: string;
}

/** The n-th machine's BMC host: 127.0.1.n inside the namespace. */
export function labBmcHost(index: number): string {
  return `127.0.1.${index}`;
}

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * The machine as its BMC starts it: `$1` is the boot device the BMC held.
 * PXE boots from the network; anything else boots the disk when there is
 * one, and the network when there is none (as firmware falls through).
 */
export function machineScript(vm: VmSpec): string {
  const line = (bootFrom: 'network' | 'disk') => `exec ${[QEMU, ...qemuArgs({ ...vm, bootFrom, appendSerial: true })].map(quote).join(' ')}`;
  if (!vm.disk) return line('network');
  return `case "$1" in\n  pxe) ${line('network')} ;;\n  *) ${line('disk')} ;;\nesac`;
}

export function newBmcPassword(): string {
  // IPMI 2.0 passwords are at most 20 bytes: 72 random bits in 18 hex digits.
  return randomBytes(9).toString('hex');
}

/**
 * Starts the BMC of one machine inside namespace `ns`, detached (it outlives
 * the command that started it; lab down stops it). The machine stays off
 * until someone powers it on through the BMC.
 */
export async function startLabBmc(o: { ns: string; dir: string; index: number; vm: Omit<VmSpec, 'bmcLink' | 'qmpSocket' | 'serialServer'>; password: string; log: string; sol?: boolean }): Promise<LabBmc> {
  const host = labBmcHost(o.index);
  const qmpSocket = join(o.dir, 'qmp.sock');
  // With sol, the machine's serial port is the BMC's SOL device (ipmi_sim's `sol "tcp:…"`).
  const serialServer = o.sol ? { host, port: SOL_PORT } : undefined;
  const vm: VmSpec = { ...o.vm, bmcLink: { host, port: VM_LINK_PORT }, qmpSocket, serialServer };
  const files = writeIpmiSimFiles(o.dir, {
    address: host, port: IPMI_PORT, vmPort: VM_LINK_PORT, solPort: serialServer?.port, username: LAB_BMC_USER, password: o.password, netns: o.ns, machine: machineScript(vm),
  });
  const [cmd, ...args] = files.argv;
  const fd = openSync(o.log, 'a');
  let pid: number;
  let exited = false;
  try {
    const p = spawn(cmd!, args, { detached: true, stdio: ['ignore', fd, fd] });
    p.once('exit', () => (exited = true));
    p.unref();
    if (!p.pid) throw new Error(`could not start ipmi_sim for machine ${o.index}`);
    pid = p.pid;
  } finally {
    closeSync(fd);
  }
  const output = () => { try { return readFileSync(o.log, 'utf8').slice(-2000); } catch { return ''; } };
  await waitForUdpListener(host, IPMI_PORT, pid, () => exited, output);
  return { address: `ipmi://${host}`, host, dir: o.dir, pid, qmpSocket };
}

/** The pid of the machine's QEMU while its BMC has it powered on. */
export function labMachinePid(bmc: LabBmc): number | undefined {
  return machinePid(join(bmc.dir, 'machine'));
}

/** What the BMC's chassis hook did, in order: "boot pxe", "start boot=pxe", "stop", "reset". */
export function labChassisEvents(bmc: LabBmc): string[] {
  return chassisEvents(join(bmc.dir, 'machine'));
}
