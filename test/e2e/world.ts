// One e2e world: a network namespace with a bridge, rackboot (the built CLI)
// serving on the bridge address, a tcpdump capture of the bridge, and QEMU
// machines on taps. Everything lives in namespaces made here; destroy()
// kills every process started and deletes the namespaces, also on failure.
import { randomBytes } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { linkNamespaces, Netns, sh, uniqueSuffix } from '../helpers/netns.js';
import { LAB_ADMIN_LISTEN, writeApplianceFiles, type AppliancePaths, type LabNode } from '../../src/lab/appliance-files.js';
import { selfSignedFiles } from '../../src/http/admin/tls.js';
import { prepareAppliance } from '../../src/lab/prepare.js';
import { OVMF_VARS_4M, OVMF_VARS_4M_SNAKEOIL, qemuArgs, QEMU, type Firmware } from '../../src/lab/qemu.js';
import { AAVMF_VARS, qemuArm64Args, QEMU_AARCH64 } from '../../src/lab/qemu-arm64.js';
import type { StandinFiles } from '../../src/lab/standin.js';
import { readCapture, type WirePacket } from './capture.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'dist', 'cli.js');
export const OUTPUT = join(REPO, 'test-output', 'e2e');
export const SERVER = '10.77.0.1';
export const HTTP_PORT = 8080;
export const TALOS_VERSION = 'v1.11.5';

export interface WorldOptions {
  name: string;
  dhcpMode: 'full' | 'proxy';
  nodes: LabNode[];
  efiBinary?: 'ipxe.efi' | 'snponly.efi';
  standin: StandinFiles;
  /** More settings sections for rackboot.yaml (e.g. short power.* fallback times). */
  settings?: Record<string, unknown>;
  /** branch ipv6: the bridge also gets SERVER6/64, and rackboot serves DHCPv6 on it (dual stack). */
  ipv6?: boolean;
}

export const SERVER6 = '2001:db8:77::1';
export const PREFIX6 = '2001:db8:77::/64';

export interface VmRun {
  mac: string;
  firmware: Firmware;
  startedAt: number;
  /** When the wait condition was first seen on the serial console. */
  doneAt?: number;
  /** When the kernel's first line ("Linux version") appeared on the serial console. */
  kernelRunningAt?: number;
  serial: string;
  exitedBeforeDone: boolean;
}

export class World {
  readonly suffix = uniqueSuffix();
  readonly adminToken = randomBytes(18).toString('hex');
  readonly ns: Netns;
  readonly bridge: string;
  readonly dir: string;
  readonly paths: AppliancePaths;
  readonly pcap: string;
  private keaNs?: Netns;
  private rackboot?: ReturnType<Netns['spawn']>;
  private taps = 0;

  private constructor(readonly opts: WorldOptions) {
    this.ns = Netns.create(`rbe${this.suffix}`);
    this.bridge = `rbe${this.suffix}b`;
    this.dir = join(OUTPUT, `${opts.name}-${this.suffix}`);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.pcap = join(this.dir, 'bridge.pcap');
    this.paths = writeApplianceFiles({
      dir: this.dir, bridge: this.bridge, serverAddress: SERVER, subnet: '10.77.0.0/24',
      pool: { start: '10.77.0.100', end: '10.77.0.199' }, dhcpMode: opts.dhcpMode, httpPort: HTTP_PORT,
      efiBinary: opts.efiBinary, talosVersion: TALOS_VERSION, nodes: opts.nodes, adminToken: this.adminToken,
      settings: opts.ipv6
        ? { ...opts.settings, http: { listen: `[::]:${HTTP_PORT}`, adminListen: LAB_ADMIN_LISTEN }, dhcpv6: { enabled: true, prefix: PREFIX6, address: SERVER6 } }
        : opts.settings,
    });
  }

  /** Builds the namespace and starts everything; on any failure it tears down what it made and rethrows. */
  static async start(opts: WorldOptions): Promise<World> {
    const w = new World(opts);
    try {
      await w.build();
      return w;
    } catch (err) {
      await w.destroy();
      throw err;
    }
  }

  private async build(): Promise<void> {
    // As an operator would: rackboot init, then rackboot assets import of the stand-in.
    await prepareAppliance(this.paths, this.opts.standin);
    this.ns.addBridge(this.bridge, `${SERVER}/24`);
    // nodad: rackboot binds this address at once; duplicate address detection would keep it tentative (unbindable) for a second or two.
    if (this.opts.ipv6) this.ns.exec('ip', ['-6', 'addr', 'add', `${SERVER6}/64`, 'dev', this.bridge, 'nodad']);
    const cap = this.ns.spawn('tcpdump', ['-i', this.bridge, '-U', '-n', '-w', this.pcap, `(udp and (port 67 or port 68 or port 69 or port 4011 or port 546 or port 547)) or (tcp dst port ${HTTP_PORT})`]);
    cap.stderr?.resume();
    if (this.opts.dhcpMode === 'proxy') this.startKea();
    const log = createWriteStream(this.paths.log);
    this.rackboot = this.ns.spawn('node', [CLI, 'serve', '--config', this.paths.config], { cwd: this.dir, env: { ...process.env, NODE_ENV: 'production' } });
    this.rackboot.stdout?.pipe(log);
    this.rackboot.stderr?.pipe(log);
    await this.waitHttp();
    // tcpdump needs a moment before its first packet is written.
    await until(() => existsSync(this.pcap), 5000, 'tcpdump did not start');
  }

  /** kea-dhcp4 in its own namespace hands out addresses; rackboot must then only add PXE. */
  private startKea(): void {
    this.keaNs = Netns.create(`rbe${this.suffix}k`);
    linkNamespaces(this.keaNs, `rbe${this.suffix}k0`, this.ns, `rbe${this.suffix}k1`, { aCidr: '10.77.0.2/24', bBridge: this.bridge });
    const conf = join(this.dir, 'kea-dhcp4.json');
    writeFileSync(conf, JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: [`rbe${this.suffix}k0`], 'dhcp-socket-type': 'raw' },
        'lease-database': { type: 'memfile', persist: false },
        'valid-lifetime': 600,
        subnet4: [{ id: 1, subnet: '10.77.0.0/24', pools: [{ pool: '10.77.0.100 - 10.77.0.199' }], 'option-data': [{ name: 'routers', data: SERVER }] }],
        loggers: [{ name: 'kea-dhcp4', 'output_options': [{ output: join(this.dir, 'kea.log') }], severity: 'INFO' }],
      },
    }));
    const kea = this.keaNs.spawn('kea-dhcp4', ['-c', conf], { env: { ...process.env, KEA_PIDFILE_DIR: this.dir, KEA_LOCKFILE_DIR: this.dir } });
    kea.stdout?.resume();
    kea.stderr?.resume();
  }

  private async waitHttp(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.rackboot?.exitCode !== null) throw new Error(`rackboot serve exited (${this.rackboot?.exitCode}): ${tail(this.paths.log)}`);
      try {
        this.ns.exec('curl', ['-sf', '-m', '2', `http://${SERVER}:${HTTP_PORT}/healthz`]);
        // HTTP answers before DHCP and TFTP are bound; "rackboot serving" is logged once every listener is.
        if (readFileSync(this.paths.log, 'utf8').includes('"msg":"rackboot serving"')) return;
        await sleep(200);
      } catch { await sleep(200); }
    }
    throw new Error(`rackboot HTTP did not answer within 20 s: ${tail(this.paths.log)}`);
  }

  /**
   * rackboot must itself serve DHCP (and proxyDHCP) and TFTP here: no
   * stand-in server is ever started. Each case calls this for what its
   * firmware needs, so a build without a service fails that case at once,
   * loudly, saying which service is missing, instead of timing out a VM.
   */
  requireServices(services: ('dhcp' | 'tftp')[]): void {
    const out = this.ns.exec('ss', ['-ulnp']);
    const wanted: [number, string][] = [];
    if (services.includes('dhcp')) wanted.push([67, 'DHCP']);
    if (services.includes('dhcp') && this.opts.dhcpMode === 'proxy') wanted.push([4011, 'proxyDHCP']);
    if (services.includes('tftp')) wanted.push([69, 'TFTP']);
    const listening = (port: number) => out.split('\n').some((l) => l.includes(`:${port} `) && l.includes('"node"'));
    const missing = wanted.filter(([port]) => !listening(port));
    if (missing.length > 0) {
      throw new Error(`rackboot serve (dhcp.mode ${this.opts.dhcpMode}) is not listening on ${missing.map(([p, n]) => `udp/${p} (${n})`).join(', ')}: `
        + `this build does not serve ${missing.map(([, n]) => n).join(' and ')}. ss -ulnp in the namespace:\n${out}`);
    }
  }

  api<T>(path: string): T {
    // The admin plane: HTTPS on the namespace's loopback, pinned to the self-signed certificate.
    const cert = selfSignedFiles(this.paths.dataDir).cert;
    return JSON.parse(this.ns.exec('curl', ['-sf', '-m', '5', '--cacert', cert, '-H', `Authorization: Bearer ${this.adminToken}`, `https://${LAB_ADMIN_LISTEN}${path}`])) as T;
  }

  /**
   * Powers on a machine and waits until `done(serial)` holds, the machine
   * powers off, or `timeoutMs` passes. QEMU is killed afterwards either way.
   */
  async runVm(o: {
    firmware: Firmware; mac: string; uuid?: string; disk?: string; uefiNetBoot?: 'pxe' | 'http' | 'pxe6' | 'http6'; secureBoot?: boolean;
    /** arm64: qemu-system-aarch64 -M virt with AAVMF (firmware must be uefi; uefiNetBoot pxe or http). */ arch?: 'arm64'; timeoutMs: number; done: (serial: string) => boolean;
  }): Promise<VmRun> {
    const tap = `rbe${this.suffix}t${this.taps++}`;
    this.ns.addTap(tap, this.bridge);
    const serialFile = join(this.dir, `${o.firmware}-${o.mac.replace(/:/g, '')}-${this.taps}.serial`);
    // A fresh variable store per machine: a new machine, no boot options remembered.
    const varsFile = o.arch === 'arm64' || (o.uefiNetBoot !== undefined && o.uefiNetBoot !== 'pxe') ? join(this.dir, `vars-${o.mac.replace(/:/g, '')}-${this.taps}.fd`) : undefined;
    if (varsFile) copyFileSync(o.arch === 'arm64' ? AAVMF_VARS : o.secureBoot ? OVMF_VARS_4M_SNAKEOIL : OVMF_VARS_4M, varsFile);
    const startedAt = Date.now();
    const vm = o.arch === 'arm64'
      ? this.ns.spawn(QEMU_AARCH64, qemuArm64Args({ mac: o.mac, tap, serialFile, uuid: o.uuid, uefiNetBoot: o.uefiNetBoot === 'http' ? 'http' : 'pxe', varsFile: varsFile! }))
      : this.ns.spawn(QEMU, qemuArgs({ firmware: o.firmware, mac: o.mac, tap, serialFile, uuid: o.uuid, disk: o.disk, uefiNetBoot: o.uefiNetBoot, varsFile, secureBoot: o.secureBoot }));
    let stderr = '';
    vm.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    vm.stdout?.resume();
    const read = () => (existsSync(serialFile) ? readFileSync(serialFile, 'latin1') : '');
    let doneAt: number | undefined;
    let kernelRunningAt: number | undefined;
    try {
      while (Date.now() - startedAt < o.timeoutMs) {
        const serial = read();
        if (kernelRunningAt === undefined && serial.includes('Linux version')) kernelRunningAt = Date.now();
        if (o.done(serial)) { doneAt = Date.now(); break; }
        if (vm.exitCode !== null) break;
        await sleep(100);
      }
    } finally {
      if (vm.exitCode === null) {
        vm.kill('SIGKILL');
        await new Promise((r) => vm.once('exit', r));
      }
      try { this.ns.exec('ip', ['link', 'del', tap]); } catch { /* gone with QEMU */ }
    }
    const serial = read();
    if (doneAt === undefined && vm.exitCode !== null && vm.exitCode !== 0 && stderr) throw new Error(`QEMU failed: ${stderr}`);
    if (doneAt === undefined && o.done(serial)) doneAt = Date.now();
    return { mac: o.mac, firmware: o.firmware, startedAt, doneAt, kernelRunningAt, serial, exitedBeforeDone: doneAt === undefined };
  }

  capture() {
    return readCapture(this.pcap);
  }

  /**
   * The capture once `seen` holds for it, or as it stands after `ms`.
   * tcpdump gets packets from the kernel in blocks (libpcap's buffer
   * timeout), so the last second of a run may not be in the file yet when
   * the serial marker is read: a case that asserts on what came last waits
   * for it here.
   */
  async captureUntil(seen: (wire: WirePacket[]) => boolean, ms: number): Promise<WirePacket[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const wire = this.capture();
      if (seen(wire) || Date.now() > deadline) return wire;
      await sleep(200);
    }
  }

  /** rackboot's JSON log lines (pino). */
  logLines(): Record<string, unknown>[] {
    if (!existsSync(this.paths.log)) return [];
    return readFileSync(this.paths.log, 'utf8').split('\n').flatMap((l) => {
      try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; }
    });
  }

  async destroy(): Promise<void> {
    await this.ns.destroy();
    await this.keaNs?.destroy();
    // veth ends die with their namespace; make sure nothing was left in the root namespace.
    for (const link of [`rbe${this.suffix}k0`, `rbe${this.suffix}k1`]) {
      try { sh('ip', ['link', 'del', link]); } catch { /* not there: expected */ }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(what);
    await sleep(50);
  }
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
}
