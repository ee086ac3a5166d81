// `rackboot lab`: a virtual rack. A network namespace holds a bridge, the
// appliance (the real `rackboot serve`, DHCP full mode) on the bridge
// address, and N QEMU machines on taps that PXE-boot through it. Offline
// the machines boot the Talos stand-in, and the lab says so.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeApplianceFiles, type LabNode } from './appliance-files.js';
import { prepareAppliance } from './prepare.js';
import { parseMarker } from './standin-init.js';
import { qemuArgs, QEMU, type Firmware } from './qemu.js';
import { buildStandin, DEFAULT_STANDIN_CACHE, type StandinFiles } from './standin.js';

export const LAB_NS = 'rblab';
const BRIDGE = 'rblabbr';
const SERVER = '10.78.0.1';
const HTTP_PORT = 8080;
const TALOS_VERSION = 'v1.11.5';
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export interface LabMachine { name: string; mac: string; firmware: Firmware; tap: string; serial: string; pid: number }
export interface LabState { dir: string; ns: string; url: string; adminToken: string; rackbootPid: number; machines: LabMachine[]; standin: StandinFiles; startedAt: string }

/** Said on every `lab up` and `lab status`: which parts are real and which are stand-ins. */
export function standinNotice(s: StandinFiles): string[] {
  return [
    'REAL: rackboot serve (DHCP full mode, TFTP, HTTP), iPXE and OVMF firmware in QEMU, the boot path to a running kernel.',
    `STAND-IN: "Talos" is a Debian kernel (${s.kernelPackage}) with a busybox initramfs. It checks the Talos kernel`,
    '  arguments, takes a DHCP lease, fetches talos.config= for pull-mode nodes, prints a marker and powers off.',
    '  It does not install to disk and does not answer the Talos API.',
    'NOT IN THIS LAB YET: fake Talos nodes answering the API, so push config, bootstrap and kubeconfig do not run here.',
  ];
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const inNs = (...args: string[]) => ip('netns', 'exec', LAB_NS, ...args);
const stateFile = (dir: string) => join(dir, 'lab.json');

export function readLabState(dir: string): LabState | undefined {
  try { return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState; } catch { return undefined; }
}

function nsExists(): boolean {
  return ip('netns', 'list').split('\n').some((l) => l.split(' ')[0] === LAB_NS);
}

/** Starts a process inside the lab namespace that outlives this command. */
function spawnDetached(cmd: string, args: string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const p = spawn('ip', ['netns', 'exec', LAB_NS, cmd, ...args], { cwd, detached: true, stdio: ['ignore', fd, fd] });
    p.unref();
    if (!p.pid) throw new Error(`could not start ${cmd}`);
    return p.pid;
  } finally {
    closeSync(fd);
  }
}

export function labMachines(count: number, dir: string): (LabNode & { firmware: Firmware; tap: string; serial: string })[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const firmware: Firmware = n % 2 === 1 ? 'bios' : 'uefi';
    return {
      name: `lab-${n}`,
      mac: `52:54:00:1a:b0:${n.toString(16).padStart(2, '0')}`,
      role: n === 1 ? 'controlplane' : 'worker',
      // Every third machine pulls its config, so both paths are on show.
      configMode: n % 3 === 0 ? 'pull' : 'push',
      firmware,
      tap: `rblabt${n}`,
      serial: join(dir, `lab-${n}.serial`),
    };
  });
}

export async function labUp(opts: { dir: string; nodes: number; say: (l: string) => void }): Promise<LabState> {
  const dir = resolve(opts.dir);
  if (nsExists()) throw new Error(`a lab is already running (namespace ${LAB_NS}); run rackboot lab down first`);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build rackboot first (npx tsc -p .)`);
  mkdirSync(dir, { recursive: true });
  opts.say('building the Talos stand-in (first run downloads a Debian kernel package)…');
  const standin = buildStandin(process.env.RACKBOOT_STANDIN_CACHE ?? DEFAULT_STANDIN_CACHE);
  const machines = labMachines(opts.nodes, dir);
  const adminToken = randomBytes(18).toString('hex');
  const paths = writeApplianceFiles({
    dir, bridge: BRIDGE, serverAddress: SERVER, subnet: '10.78.0.0/24', pool: { start: '10.78.0.100', end: '10.78.0.199' },
    dhcpMode: 'full', httpPort: HTTP_PORT, talosVersion: TALOS_VERSION, nodes: machines.map(({ name, mac, role, configMode }) => ({ name, mac, role, configMode })), adminToken,
  });
  for (const line of await prepareAppliance(paths, standin)) opts.say(line);

  ip('netns', 'add', LAB_NS);
  try {
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('ip', 'link', 'add', BRIDGE, 'type', 'bridge');
    inNs('ip', 'link', 'set', BRIDGE, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
    inNs('ip', 'addr', 'add', `${SERVER}/24`, 'dev', BRIDGE);
    inNs('ip', 'link', 'set', BRIDGE, 'up');
    const rackbootPid = spawnDetached('node', [CLI, 'serve', '--config', paths.config], paths.log, dir);
    await waitHttp(rackbootPid, paths.log);
    const started: LabMachine[] = [];
    for (const m of machines) {
      inNs('ip', 'tuntap', 'add', 'dev', m.tap, 'mode', 'tap');
      inNs('ip', 'link', 'set', m.tap, 'master', BRIDGE);
      inNs('ip', 'link', 'set', m.tap, 'up');
      rmSync(m.serial, { force: true });
      const pid = spawnDetached(QEMU, qemuArgs({ firmware: m.firmware, mac: m.mac, tap: m.tap, serialFile: m.serial }), join(dir, `${m.name}.qemu.log`), dir);
      started.push({ name: m.name, mac: m.mac, firmware: m.firmware, tap: m.tap, serial: m.serial, pid });
    }
    const state: LabState = { dir, ns: LAB_NS, url: `http://${SERVER}:${HTTP_PORT}`, adminToken, rackbootPid, machines: started, standin, startedAt: new Date().toISOString() };
    writeFileSync(stateFile(dir), JSON.stringify(state, null, 2));
    return state;
  } catch (err) {
    await labDown({ dir, say: () => {} });
    throw err;
  }
}

async function waitHttp(pid: number, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!alive(pid)) throw new Error(`rackboot serve exited: ${existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : ''}`);
    try {
      inNs('curl', '-sf', '-m', '2', `http://${SERVER}:${HTTP_PORT}/healthz`);
      return;
    } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  throw new Error('rackboot serve did not answer HTTP within 20 s');
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** True only if `pid` is still the process we started (PIDs get reused). */
function ours(pid: number, needle: string): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle); } catch { return false; }
}

export async function labDown(opts: { dir: string; say: (l: string) => void }): Promise<void> {
  const state = readLabState(resolve(opts.dir));
  const pids = state ? [...state.machines.map((m) => ({ pid: m.pid, needle: m.tap })), { pid: state.rackbootPid, needle: 'serve' }] : [];
  for (const { pid, needle } of pids) {
    if (ours(pid, needle)) (process.kill(pid, 'SIGTERM'), opts.say(`stopped pid ${pid}`));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const { pid, needle } of pids) if (ours(pid, needle)) process.kill(pid, 'SIGKILL');
  if (nsExists()) {
    // Anything else left inside the lab namespace was started by the lab.
    for (const pid of ip('netns', 'pids', LAB_NS).split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    ip('netns', 'del', LAB_NS);
    opts.say(`deleted namespace ${LAB_NS}`);
  }
  if (state) rmSync(stateFile(state.dir), { force: true });
}

export interface MachineStatus { name: string; firmware: Firmware; running: boolean; state: string; marker: string }

export function labStatus(dir: string): { state: LabState; machines: MachineStatus[]; apiError?: string } | undefined {
  const state = readLabState(resolve(dir));
  if (!state) return undefined;
  let nodes: { name: string; state: string }[] = [];
  let apiError: string | undefined;
  try {
    nodes = JSON.parse(inNs('curl', '-sf', '-m', '3', '-H', `Authorization: Bearer ${state.adminToken}`, `${state.url}/api/nodes`)) as typeof nodes;
  } catch (err) {
    apiError = (err as Error).message.split('\n')[0];
  }
  const machines = state.machines.map((m) => {
    const serial = existsSync(m.serial) ? readFileSync(m.serial, 'latin1') : '';
    const marker = parseMarker(serial);
    return {
      name: m.name, firmware: m.firmware, running: ours(m.pid, m.tap),
      state: nodes.find((n) => n.name === m.name)?.state ?? '?',
      marker: marker ? `stand-in kernel ran: ${marker.result}, ip ${marker.ip}${marker.config !== 'none' ? `, pulled config sha256 ${marker.config.slice(0, 12)}…` : ''}` : '(no marker yet)',
    };
  });
  return { state, machines, apiError };
}
