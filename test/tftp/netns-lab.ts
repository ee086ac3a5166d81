// A two-namespace lab for real TFTP clients: rackboot's TFTP service runs
// as a child process in the server namespace (bundled from the TypeScript
// sources, since a process cannot change its own namespace), and clients
// run in the client namespace across a veth pair.
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { build } from 'rolldown';
import { linkNamespaces, Netns, uniqueSuffix } from '../helpers/netns.js';
import type { TftpMetrics } from '../../src/tftp/clients.js';

const repo = resolve(import.meta.dirname, '../..');

/** Bundles serve-child.ts into the repo's test-output (so bare imports resolve from node_modules). */
export async function bundleServer(suffix: string): Promise<{ file: string; dir: string }> {
  const dir = join(repo, 'test-output', `tftp-${suffix}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'serve.mjs');
  await build({ input: join(import.meta.dirname, 'serve-child.ts'), platform: 'node', external: [/^[^./]/], logLevel: 'silent', output: { file, format: 'esm' } });
  return { file, dir };
}

/** Per-frame probabilities, each direction, applied to IPv4 UDP only. */
export interface Impairment { loss: number; reorder: number; seed?: number }

export interface LabOptions {
  root: string;
  maxBlksize?: number;
  maxWindowsize?: number;
  maxTransfers?: number;
  /** Third octet of 10.98.X.0/24, so concurrent labs are easy to tell apart in captures. */
  net?: number;
}

/** rackboot's TFTP service as a child process inside a namespace. */
export class TftpChild {
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  stderr = '';

  private constructor(private readonly proc: ChildProcess, private readonly bundleDir: string) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Starts it on `host`:69; the namespace's destroy() kills it. */
  static async start(ns: Netns, host: string, opts: LabOptions, suffix: string): Promise<TftpChild> {
    const { file, dir } = await bundleServer(suffix);
    const cfg = {
      tftp: { enabled: true, root: opts.root, port: 69, maxBlksize: opts.maxBlksize ?? 1468, maxWindowsize: opts.maxWindowsize ?? 16, maxTransfers: opts.maxTransfers ?? 64 },
      host,
      // The ACK path the daemon runs (the shared receiver thread), so the real clients meet what a rack meets.
      ackThread: 'daemon',
    };
    const child = new TftpChild(ns.spawn(process.execPath, [file, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'pipe'] }), dir);
    const ready = JSON.parse(await child.nextLine(10_000)) as { port: number };
    if (ready.port !== 69) throw new Error(`server bound ${ready.port}`);
    return child;
  }

  private async nextLine(ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`TFTP child said nothing; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
    return this.lines.shift()!;
  }

  async metrics(): Promise<TftpMetrics> {
    this.proc.stdin!.write('metrics\n');
    return JSON.parse(await this.nextLine(5000)) as TftpMetrics;
  }

  dispose(): void {
    rmSync(this.bundleDir, { recursive: true, force: true });
  }
}

export interface ImpairerStats {
  forwarded: number;
  dropped: number;
  reordered: number;
  /** First four UDP payload bytes (hex) of each client frame dropped on its way to the server (impair.py's side A). */
  droppedTowardsA: string[];
}

export class TftpLab {
  readonly suffix = uniqueSuffix();
  readonly serverNs: Netns;
  readonly clientNs: Netns;
  readonly serverIf = `rbta${this.suffix}`;
  readonly clientIf = `rbtb${this.suffix}`;
  readonly serverIp: string;
  readonly clientIp: string;
  private child: TftpChild | undefined;

  /** With `impair`: the namespace in the middle that forwards (and drops, and reorders) frames. */
  readonly middleNs: Netns | undefined;
  private impairer: ChildProcess | undefined;
  /** Set once the impairer has exited and its pipes are drained: a crash before the stats are asked for must not leave impairerStats waiting. */
  private impairerEnded: Promise<{ out: string; err: string; code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(opts: { net?: number; impair?: Impairment } = {}) {
    const net = opts.net ?? 98;
    this.serverIp = `10.98.${net}.1`;
    this.clientIp = `10.98.${net}.2`;
    this.serverNs = Netns.create(`rbts${this.suffix}`);
    this.clientNs = Netns.create(`rbtc${this.suffix}`);
    try {
      if (!opts.impair) {
        linkNamespaces(this.serverNs, this.serverIf, this.clientNs, this.clientIf, { aCidr: `${this.serverIp}/24`, bCidr: `${this.clientIp}/24` });
        return;
      }
      this.middleNs = Netns.create(`rbtm${this.suffix}`);
      const [toServer, toClient] = [`rbtx${this.suffix}`, `rbty${this.suffix}`];
      linkNamespaces(this.serverNs, this.serverIf, this.middleNs, toServer, { aCidr: `${this.serverIp}/24` });
      linkNamespaces(this.clientNs, this.clientIf, this.middleNs, toClient, { aCidr: `${this.clientIp}/24` });
      for (const i of [toServer, toClient]) this.middleNs.exec('ip', ['link', 'set', i, 'promisc', 'on']);
      const i = opts.impair;
      this.impairer = this.middleNs.spawn('/usr/bin/python3', [join(import.meta.dirname, 'impair.py'), toServer, toClient, String(i.loss), String(i.reorder), String(i.seed ?? 1)]);
      const p = this.impairer;
      this.impairerEnded = new Promise((resolve) => {
        let out = '';
        let err = '';
        p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        p.once('close', (code, signal) => resolve({ out, err, code, signal }));
      });
    } catch (err) {
      void this.destroy();
      throw err;
    }
  }

  /** Waits for the userspace impairer to be forwarding. */
  async impairerReady(): Promise<void> {
    const p = this.impairer!;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('impair.py did not start')), 10_000);
      p.stdout!.once('data', () => (clearTimeout(t), resolve()));
      p.once('exit', (code) => (clearTimeout(t), reject(new Error(`impair.py exited ${code}`))));
    });
  }

  /**
   * Stops the impairer and returns what it did. Waits for 'close', not 'exit':
   * Node may emit 'exit' before the last bytes of the child's stdout pipe are
   * read, and those bytes are the stats line.
   */
  async impairerStats(): Promise<ImpairerStats> {
    this.impairer!.kill('SIGTERM');
    const { out, err, code, signal } = await this.impairerEnded!;
    const last = out.trim().split('\n').pop() ?? '';
    if (!last.startsWith('{')) {
      throw new Error(`impair.py printed no stats (exit ${code}, signal ${signal}); stdout ${JSON.stringify(out)}; stderr ${JSON.stringify(err)}`);
    }
    return JSON.parse(last) as ImpairerStats;
  }

  async startServer(opts: LabOptions): Promise<void> {
    this.child = await TftpChild.start(this.serverNs, this.serverIp, opts, this.suffix);
  }

  get stderr(): string {
    return this.child?.stderr ?? '';
  }

  metrics(): Promise<TftpMetrics> {
    return this.child!.metrics();
  }

  /** Runs a client command in the client namespace; returns its exit status and output instead of throwing. */
  client(cmd: string, args: string[], timeoutMs = 60_000): { status: number; out: string } {
    try {
      return { status: 0, out: this.clientNs.exec(cmd, args, { timeoutMs }) };
    } catch (err) {
      const e = err as { status?: number; stdout?: string; stderr?: string };
      return { status: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  async destroy(): Promise<void> {
    await this.clientNs.destroy();
    await this.middleNs?.destroy();
    await this.serverNs.destroy();
    this.child?.dispose();
  }
}
