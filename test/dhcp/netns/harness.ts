// Shared pieces of the DHCP real-peer tests: the built CLI (the real socket
// code, run inside a namespace), its settings and inventory, a bridge
// namespace acting as the switch, and helpers to wait on what peers do.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Netns, sh } from '../../helpers/netns.js';
import { perfdhcpStats } from '../../../bench/lib/perfdhcp-report.mjs';
import { ADDON_BUILD } from '../../../src/dhcp/server.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const HERE = dirname(fileURLToPath(import.meta.url));
export const CLIENT_SCRIPT = join(HERE, 'client-script.sh');
export const EXCHANGE = join(HERE, 'udp-exchange.mjs');

/**
 * The built CLI (test/global-setup.ts compiles dist/ before any test file
 * runs) with the bindtodevice addon, built here if missing (serialised
 * across this repo's test files).
 */
export function buildCli(): string {
  const cli = join(REPO, 'dist/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: test/global-setup.ts should have built it`);
  if (existsSync(join(REPO, 'native/bindtodevice/build/Release/bindtodevice.node'))) return cli;
  const lock = join(REPO, '.rbd-build.lock');
  const deadline = Date.now() + 170_000;
  for (;;) {
    try { mkdirSync(lock); break; } catch { /* another file is building */ }
    if (Date.now() > deadline) throw new Error(`build lock ${lock} held too long`);
    execFileSync('sleep', ['0.5']);
  }
  try {
    if (!existsSync(join(REPO, 'native/bindtodevice/build/Release/bindtodevice.node'))) {
      execFileSync('sh', ['-c', ADDON_BUILD], { cwd: REPO, stdio: 'pipe', timeout: 120_000 });
    }
  } finally {
    rmdirSync(lock);
  }
  return cli;
}

export interface NodeEntry { name: string; mac: string; ip?: string }

export function writeConfig(dir: string, settings: Record<string, unknown>, nodes: NodeEntry[]): string {
  const inventory = {
    cluster: { name: 'rbd', controlPlaneEndpoint: 'https://10.77.0.10:6443', talosVersion: 'v1.11.5' },
    nodes: nodes.map((n, i) => ({ ...n, role: i === 0 ? 'controlplane' : 'worker', installDisk: '/dev/sda' })),
  };
  writeFileSync(join(dir, 'cluster.yaml'), JSON.stringify(inventory, null, 2));
  const file = join(dir, 'rackboot.yaml');
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), inventory: join(dir, 'cluster.yaml'), logLevel: 'debug', ...settings }, null, 2));
  return file;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rbd-'));
}

/** A running `rackboot serve` in a namespace, with its log lines. */
export class Rackboot {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly stderr: string[] = [];
  constructor(readonly proc: ChildProcess, readonly dataDir: string) {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { this.lines.push(JSON.parse(line) as Record<string, unknown>); } catch { this.stderr.push(line); }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => this.stderr.push(d.toString()));
  }

  /** `daemon` runs it as deployed (the benches pass the systemd unit's Node flags and environment). */
  static async start(ns: Netns, cli: string, config: string, dataDir: string, daemon: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Rackboot> {
    const args = [...(daemon.nodeFlags ?? []), cli, 'serve', '--config', config, '--no-tftp'];
    const rb = new Rackboot(ns.spawn(process.execPath, args, { cwd: REPO, env: daemon.env }), dataDir);
    await waitFor(() => rb.lines.some((l) => l.msg === 'dhcp serving'), 20_000, () => `rackboot did not start: ${rb.stderr.join('')} ${JSON.stringify(rb.lines.slice(-5))}`);
    return rb;
  }

  /** Reads the live database (WAL allows a reader beside the daemon). */
  query<T>(sql: string, ...args: unknown[]): T[] {
    const db = new Database(join(this.dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try { return db.prepare(sql).all(...args) as T[]; } finally { db.close(); }
  }

  lease(mac: string): { ip: string; state: string; expires_at: number; updated_at: number } | undefined {
    return this.query<{ ip: string; state: string; expires_at: number; updated_at: number }>('SELECT * FROM leases WHERE mac=?', mac)[0];
  }

  dhcpLines(mac?: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.svc === 'dhcp' && (mac === undefined || l.mac === mac));
  }
}

export async function waitFor(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(typeof what === 'string' ? `timed out: ${what}` : what());
}

export function readEvents(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Sends one datagram from inside `ns` and returns what came back within `waitMs`. */
export function exchange(ns: Netns, opts: { bindPort: number; to: string; bytes: Buffer; waitMs?: number; bindAddress?: string }): Array<{ from: string; port: number; bytes: Buffer }> {
  const out = ns.exec(process.execPath, [
    EXCHANGE, '--bind-port', String(opts.bindPort), '--bind-address', opts.bindAddress ?? '0.0.0.0',
    '--to', opts.to, '--hex', opts.bytes.toString('hex'), '--wait', String(opts.waitMs ?? 2500),
  ], { timeoutMs: (opts.waitMs ?? 2500) + 10_000 });
  return out.split('\n').filter(Boolean).map((l) => {
    const j = JSON.parse(l) as { from: string; port: number; hex: string };
    return { from: j.from, port: j.port, bytes: Buffer.from(j.hex, 'hex') };
  });
}

/** perfdhcp's report as arrays in report order (DISCOVER-OFFER, then REQUEST-ACK): the packets it sent, received and counted as dropped. */
export function perfdhcpCounts(report: string): { sent: number[]; received: number[]; drops: number[] } {
  const kinds = Object.values(perfdhcpStats(report));
  return { sent: kinds.map((k) => k.sent), received: kinds.map((k) => k.received), drops: kinds.map((k) => k.drops) };
}

/** A namespace with one bridge: the switch every peer of a test plugs into. */
export function makeSwitch(name: string): Netns {
  const sw = Netns.create(name);
  sw.addBridge('br0');
  return sw;
}

/** Plugs `ns` into the switch with a veth named `ifName` in `ns` (and `peer` on the bridge). */
export function plug(sw: Netns, ns: Netns, ifName: string, peer: string, opts: { cidr?: string; mac?: string } = {}): void {
  sh('ip', ['link', 'add', ifName, 'netns', ns.name, 'type', 'veth', 'peer', 'name', peer, 'netns', sw.name]);
  if (opts.mac) ns.exec('ip', ['link', 'set', ifName, 'address', opts.mac]);
  if (opts.cidr) ns.exec('ip', ['addr', 'add', opts.cidr, 'dev', ifName]);
  sw.exec('ip', ['link', 'set', peer, 'master', 'br0']);
  sw.exec('ip', ['link', 'set', peer, 'up']);
  ns.exec('ip', ['link', 'set', ifName, 'up']);
}

export function cleanupDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
