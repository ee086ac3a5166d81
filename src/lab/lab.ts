// `rackboot lab`: a virtual rack. A network namespace holds a bridge, the
// appliance (the real `rackboot serve`, DHCP full mode) on the bridge
// address, and N QEMU machines on taps that PXE-boot through it, each behind
// its own IPMI BMC (lab-bmc.ts) that rackboot powers it on through. Offline
// the machines boot the Talos stand-in; once a machine's stand-in has powered
// off, a fake Talos node takes over its network identity and answers the
// machine API, so push, bootstrap, health and kubeconfig run for real
// against it. The lab says plainly which parts are stand-ins.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LAB_ADMIN_LISTEN, writeApplianceFiles, type LabNode } from './appliance-files.js';
import { selfSignedFiles } from '../http/admin/tls.js';
import { builtPath } from './built.js';
import { stopFakeNodes } from './fake-nodes.js';
import { prepareAppliance, prepareTalosApi } from './prepare.js';
import type { Firmware } from './qemu.js';
import { buildStandin, DEFAULT_STANDIN_CACHE, type StandinFiles } from './standin.js';
import { writeSecretFile } from '../talos/secrets.js';
import { passwordPath, writePassword } from '../bmc/credentials.js';
import { LAB_BMC_USER, LAB_CIPHER_SUITE, labMachinePid, newBmcPassword, startLabBmc, labBmcHost, type LabBmc } from './lab-bmc.js';
import { unsupportedTalosVersion } from '../talos/config/versions.js';
import type { ProgressSink } from '../factory/progress.js';
import { LabUpProgress } from './up-progress.js';
import { processAlive } from '../process-alive.js';

export const LAB_NS = 'rblab';
const SERVER = '10.78.0.1';
const HTTP_PORT = 8080;
const DEFAULT_TALOS_VERSION = 'v1.11.5';
const CLI = builtPath('cli.js');
const TAKEOVER = builtPath('lab/takeover.js');
export const labBridge = (ns: string) => `${ns}br`;

/** pid is 0 when the lab runs without VMs, and when the machine's BMC starts its QEMU (bmc). */
export interface LabMachine { index: number; name: string; mac: string; ip: string; role: LabNode['role']; configMode: 'push' | 'pull'; firmware: Firmware; tap: string; serial: string; pid: number; bmc?: LabBmc }

/** Whether the machine's QEMU runs: the one its BMC powered on, or (older labs) the one lab up started. */
export function machineRunning(m: LabMachine): boolean {
  if (m.bmc) return labMachinePid(m.bmc) !== undefined;
  return m.pid > 0 && ours(m.pid, m.tap);
}
export interface LabState {
  dir: string; ns: string; bridge: string; url: string; adminToken: string; rackbootPid: number; takeoverPid: number;
  /** The admin plane (HTTPS on the namespace's loopback) and the self-signed certificate curl pins. */
  adminUrl: string; adminCert: string;
  /** false: no QEMU; fake nodes plug in directly with the inventory MACs and addresses (tests, slow hosts). */
  vms: boolean;
  machines: LabMachine[]; standin: StandinFiles; startedAt: string;
  /** The inventory's Talos version: the fake nodes behave as that version's profile (fake-talos/profiles.ts). */
  talosVersion?: string;
}

/** Said on every `lab up` and `lab status`: which parts are real and which are stand-ins. */
export function standinNotice(s: StandinFiles, vms = true): string[] {
  return [
    'REAL: rackboot serve (DHCP full mode, TFTP, HTTP, its Talos API client and orchestrator: push config, bootstrap, health, kubeconfig)'
      + (vms ? ', iPXE and OVMF firmware in QEMU, the boot path to a running kernel.' : '.'),
    vms
      ? `STAND-IN kernel/initramfs: "Talos" is a Debian kernel (${s.kernelPackage}) with a busybox initramfs. It checks the Talos kernel`
        + '\n  arguments, takes a DHCP lease, fetches talos.config= for pull-mode nodes, prints a marker and powers off.'
      : 'NO VMs: each machine\'s boot is stood in for by one fetch of its iPXE script and one DHCP lease (busybox udhcpc) from its own namespace.',
    'FAKE Talos API: then a fake Talos node (rackboot\'s test fake, not Talos) takes over the machine\'s MAC and address',
    '  and answers the machine API on :50000: maintenance mode, then mTLS with a server cert minted from the lab\'s own OS CA.',
    '  It answers as upstream Talos of the inventory\'s version does (src/lab/fake-talos/profiles.ts, read from upstream source),',
    '  but installs nothing and runs no etcd or Kubernetes; the kubeconfig it hands out is fake.',
  ];
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const inNs = (ns: string, ...args: string[]) => ip('netns', 'exec', ns, ...args);
const stateFile = (dir: string) => join(dir, 'lab.json');

/** lab.json holds the admin token, so it is written 0600 like the settings. */
export function writeLabState(state: LabState): void {
  writeSecretFile(stateFile(state.dir), JSON.stringify(state, null, 2));
}

export function readLabState(dir: string): LabState | undefined {
  try { return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState; } catch { return undefined; }
}

function nsExists(ns: string): boolean {
  return ip('netns', 'list').split('\n').some((l) => l.split(' ')[0] === ns);
}

/** Starts a process inside the lab namespace that outlives this command. */
function spawnDetached(ns: string | undefined, cmd: string, args: string[], logFile: string, cwd: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const p = ns
      ? spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd, detached: true, stdio: ['ignore', fd, fd] })
      : spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
    p.unref();
    if (!p.pid) throw new Error(`could not start ${cmd}`);
    return p.pid;
  } finally {
    closeSync(fd);
  }
}

export function labMachines(count: number, dir: string, ns = LAB_NS): Omit<LabMachine, 'pid'>[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const firmware: Firmware = n % 2 === 1 ? 'bios' : 'uefi';
    return {
      index: n,
      name: `lab-${n}`,
      // Fixed addresses below the DHCP pool: the fake node that takes over keeps the same one.
      ip: `10.78.0.${20 + n}`,
      mac: `52:54:00:1a:b0:${n.toString(16).padStart(2, '0')}`,
      role: n === 1 ? 'controlplane' : 'worker',
      // Every third machine pulls its config, so both paths are on show.
      configMode: n % 3 === 0 ? 'pull' : 'push',
      firmware,
      tap: `${ns}t${n}`,
      serial: join(dir, `lab-${n}.serial`),
    };
  });
}

export interface LabUpOptions {
  dir: string;
  nodes: number;
  say: (l: string) => void;
  /** Namespace name; the bridge, taps and node namespaces are named after it (tests pass a unique one). */
  ns?: string;
  /** Default true. false skips QEMU: fake nodes plug in at once with the inventory MACs and addresses. */
  vms?: boolean;
  /** The lab inventory's Talos version (default v1.11.5): the configs rackboot renders, and the fake nodes' version profile. */
  talosVersion?: string;
  /** Where the live "waiting for …" line goes (the CLI's: a redrawn line on a terminal); default plain lines through say. */
  progress?: ProgressSink;
}

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const dir = resolve(opts.dir);
  const ns = opts.ns ?? LAB_NS;
  const vms = opts.vms ?? true;
  const bridge = labBridge(ns);
  if (nsExists(ns)) throw new Error(`a lab is already running (namespace ${ns}); run rackboot lab down first`);
  for (const f of [CLI, TAKEOVER]) if (!existsSync(f)) throw new Error(`${f} is missing: build rackboot first (npx tsc -p .)`);
  mkdirSync(dir, { recursive: true });
  opts.say('building the Talos stand-in (first run downloads a Debian kernel package)…');
  const standin = buildStandin(process.env.RACKBOOT_STANDIN_CACHE ?? DEFAULT_STANDIN_CACHE);
  const machines = labMachines(opts.nodes, dir, ns);
  const adminToken = randomBytes(18).toString('hex');
  const talosVersion = opts.talosVersion ?? DEFAULT_TALOS_VERSION;
  const unsupported = unsupportedTalosVersion(talosVersion);
  if (unsupported) throw new Error(unsupported);
  const paths = writeApplianceFiles({
    dir, bridge, serverAddress: SERVER, subnet: '10.78.0.0/24', pool: { start: '10.78.0.100', end: '10.78.0.199' },
    dhcpMode: 'full', httpPort: HTTP_PORT, talosVersion, adminToken,
    nodes: machines.map(({ index, name, mac, role, configMode, ip: addr, firmware }) => ({
      name, mac, role, configMode, ip: addr,
      ...(vms ? { bmc: { address: `ipmi://${labBmcHost(index)}`, username: LAB_BMC_USER, bootMode: firmware === 'uefi' ? 'uefi' as const : 'legacy' as const, ipmiCipherSuite: LAB_CIPHER_SUITE } } : {}),
    })),
  });
  // As an operator would with rackboot bmc password: one 0600 file per node in the data directory.
  const passwords = new Map(machines.map((m) => [m.name, newBmcPassword()]));
  if (vms) for (const [name, pw] of passwords) writePassword(passwordPath(paths.dataDir, name), pw);
  for (const line of await prepareAppliance(paths, standin)) opts.say(line);
  for (const line of await prepareTalosApi(paths)) opts.say(line);
  for (const m of machines) rmSync(join(dir, `${m.name}.talos.json`), { force: true });
  rmSync(join(paths.dataDir, 'kubeconfig'), { force: true });

  ip('netns', 'add', ns);
  // Written first, so lab down finds the namespace even if a later step fails.
  const state: LabState = {
    dir, ns, bridge, url: `http://${SERVER}:${HTTP_PORT}`, adminToken, rackbootPid: 0, takeoverPid: 0, vms,
    adminUrl: `https://${LAB_ADMIN_LISTEN}`, adminCert: selfSignedFiles(paths.dataDir).cert,
    machines: machines.map((m) => ({ ...m, pid: 0 })), standin, startedAt: new Date().toISOString(),
    talosVersion,
  };
  const save = () => writeLabState(state);
  save();
  const progress = new LabUpProgress(opts.progress ?? { isTTY: false, write: opts.say });
  try {
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    inNs(ns, 'ip', 'link', 'add', bridge, 'type', 'bridge');
    inNs(ns, 'ip', 'link', 'set', bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
    inNs(ns, 'ip', 'addr', 'add', `${SERVER}/24`, 'dev', bridge);
    inNs(ns, 'ip', 'link', 'set', bridge, 'up');
    state.rackbootPid = spawnDetached(ns, process.execPath, [CLI, 'serve', '--config', paths.config], paths.log, dir);
    save();
    progress.waiting('rackboot serve to listen (HTTP, then DHCP and TFTP)');
    await waitHttp(ns, state.rackbootPid, paths.log);
    progress.countFrom(() => nodeCounts(state));
    for (const m of vms ? state.machines : []) {
      progress.waiting(`${m.name}'s BMC (${m.index} of ${state.machines.length})`);
      inNs(ns, 'ip', 'tuntap', 'add', 'dev', m.tap, 'mode', 'tap');
      inNs(ns, 'ip', 'link', 'set', m.tap, 'master', bridge);
      inNs(ns, 'ip', 'link', 'set', m.tap, 'up');
      rmSync(m.serial, { force: true });
      const bmcDir = join(dir, 'bmc', m.name);
      rmSync(bmcDir, { recursive: true, force: true });
      m.bmc = await startLabBmc({
        ns, dir: bmcDir, index: m.index, password: passwords.get(m.name)!, log: join(dir, `${m.name}.bmc.log`),
        vm: { firmware: m.firmware, mac: m.mac, tap: m.tap, serialFile: m.serial },
      });
      save();
    }
    // The machines are off until rackboot powers them on through their BMCs: the command an operator runs for a rack.
    if (vms) {
      progress.waiting('rackboot power on --registered');
      const lines = await powerOnRegistered(ns, paths.config);
      progress.waiting('QEMU on every machine');
      const slow = await machinesStarted(state.machines, 30_000);
      progress.finish();
      for (const line of lines) opts.say(line);
      if (slow.length) opts.say(`QEMU is not running yet for ${slow.join(', ')}: see their BMC logs in ${dir}`);
    }
    progress.finish();
    // The takeover runs on after lab up returns: it starts each fake node when its machine is done with the stand-in.
    state.takeoverPid = spawnDetached(undefined, process.execPath, [TAKEOVER, dir], join(dir, 'takeover.log'), dir);
    save();
    return state;
  } catch (err) {
    progress.finish();
    await labDown({ dir, say: () => {} });
    throw err;
  }
}

/** Waits until each machine's BMC has started its QEMU; the names of those that have not by the deadline. */
async function machinesStarted(machines: LabMachine[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  while (machines.some((m) => !machineRunning(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return machines.filter((m) => !machineRunning(m)).map((m) => m.name);
}

/** Nodes per state from the lab appliance's API (one small page: the counts cover the whole inventory). */
async function nodeCounts(state: LabState): Promise<Record<string, number> | undefined> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', state.ns, 'curl', '-sf', '-m', '2', '--cacert', state.adminCert,
    '-H', `Authorization: Bearer ${state.adminToken}`, `${state.adminUrl}/api/nodes?pageSize=1`], { encoding: 'utf8' });
  return (JSON.parse(stdout) as { counts?: Record<string, number> }).counts;
}

const execFileAsync = promisify(execFile);

/** `rackboot power on --registered` inside the lab namespace, where the BMCs are. */
async function powerOnRegistered(ns: string, config: string): Promise<string[]> {
  try {
    const { stdout, stderr } = await execFileAsync('ip', ['netns', 'exec', ns, process.execPath, CLI, 'power', 'on', '--registered', '--config', config], { encoding: 'utf8' });
    return `${stdout}${stderr}`.split('\n').filter(Boolean).map((l) => `rackboot power on --registered: ${l}`);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`rackboot power on --registered failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

async function waitHttp(ns: string, pid: number, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) throw new Error(`rackboot serve exited: ${existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : ''}`);
    try {
      inNs(ns, 'curl', '-sf', '-m', '2', `http://${SERVER}:${HTTP_PORT}/healthz`);
      // HTTP answers before DHCP and TFTP are bound; "rackboot serving" is logged once every listener is.
      if (readFileSync(log, 'utf8').includes('"msg":"rackboot serving"')) return;
    } catch { /* not answering yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('rackboot serve did not answer HTTP within 20 s');
}

/** True only if `pid` is still the process we started (PIDs get reused). */
function ours(pid: number, needle: string): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle); } catch { return false; }
}

export async function labDown(opts: { dir: string; say: (l: string) => void; ns?: string }): Promise<void> {
  const state = readLabState(resolve(opts.dir));
  const ns = state?.ns ?? opts.ns ?? LAB_NS;
  const pids = state ? [
    { pid: state.takeoverPid, needle: 'takeover' },
    ...state.machines.map((m) => ({ pid: m.pid, needle: m.tap })),
    ...state.machines.flatMap((m) => (m.bmc ? [{ pid: labMachinePid(m.bmc) ?? 0, needle: m.tap }, { pid: m.bmc.pid, needle: 'ipmi_sim' }] : [])),
    { pid: state.rackbootPid, needle: 'serve' },
  ].filter((p) => p.pid > 0) : [];
  for (const { pid, needle } of pids) {
    if (ours(pid, needle)) (process.kill(pid, 'SIGTERM'), opts.say(`stopped pid ${pid}`));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const { pid, needle } of pids) if (ours(pid, needle)) process.kill(pid, 'SIGKILL');
  if (state) stopFakeNodes(ns, state.machines.length, opts.say);
  if (nsExists(ns)) {
    // Anything else left inside the lab namespace was started by the lab.
    for (const pid of ip('netns', 'pids', ns).split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    ip('netns', 'del', ns);
    opts.say(`deleted namespace ${ns}`);
  }
  if (state) rmSync(stateFile(state.dir), { force: true });
}

/** curl inside the lab namespace (the appliance listens only there). */
export function curlInLab(state: LabState, path: string): string {
  return inNs(state.ns, 'curl', '-sf', '-m', '3', '--cacert', state.adminCert, '-H', `Authorization: Bearer ${state.adminToken}`, `${state.adminUrl}${path}`);
}

export { ours };
