// Test networks built from network namespaces this test creates and always
// removes. Traffic stays inside them: every address used lives on a veth or
// bridge inside a namespace made here.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

export function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
}

export class Netns {
  private readonly procs: ChildProcess[] = [];
  constructor(readonly name: string) {}

  static create(name: string): Netns {
    try { sh('ip', ['netns', 'del', name]); } catch { /* not there */ }
    sh('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Starts a long-running process in the namespace; it is killed by destroy(). */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.procs.push(p);
    return p;
  }

  addBridge(bridge: string, cidr?: string): void {
    this.exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
    // No STP delay and no multicast snooping: the first DHCP packet must pass.
    this.exec('ip', ['link', 'set', bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    if (cidr) this.exec('ip', ['addr', 'add', cidr, 'dev', bridge]);
    this.exec('ip', ['link', 'set', bridge, 'up']);
  }

  addTap(tap: string, bridge: string): void {
    this.exec('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    this.exec('ip', ['link', 'set', tap, 'master', bridge]);
    this.exec('ip', ['link', 'set', tap, 'up']);
  }

  async destroy(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await new Promise<void>((r) => {
          const t = setTimeout(() => (p.kill('SIGKILL'), r()), 2000);
          p.once('exit', () => (clearTimeout(t), r()));
        });
      }
    }
    // Kill anything else still running inside (dhclient daemons and the like).
    try {
      for (const pid of sh('ip', ['netns', 'pids', this.name]).split(/\s+/).filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* namespace already gone */ }
    try { sh('ip', ['netns', 'del', this.name]); } catch { /* already gone */ }
  }
}

/**
 * Connects two namespaces with a veth pair. `aIf` lands in `a`, `bIf` in `b`.
 * Names are created in the root namespace first, so callers pass unique ones.
 */
export function linkNamespaces(a: Netns, aIf: string, b: Netns, bIf: string, opts: { aCidr?: string; bCidr?: string; bBridge?: string } = {}): void {
  sh('ip', ['link', 'add', aIf, 'netns', a.name, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name]);
  if (opts.aCidr) a.exec('ip', ['addr', 'add', opts.aCidr, 'dev', aIf]);
  if (opts.bBridge) b.exec('ip', ['link', 'set', bIf, 'master', opts.bBridge]);
  if (opts.bCidr) b.exec('ip', ['addr', 'add', opts.bCidr, 'dev', bIf]);
  a.exec('ip', ['link', 'set', aIf, 'up']);
  b.exec('ip', ['link', 'set', bIf, 'up']);
}

/** A short unique suffix so parallel test files never collide on names. */
export function uniqueSuffix(): string {
  return `${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.slice(-6);
}

export function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

export function haveCommand(path: string): boolean {
  return existsSync(path);
}

/**
 * Why a real-peer test cannot run here, or undefined when it can. In CI a
 * missing prerequisite is a failure, not a skip: CI installs everything.
 */
export function missingPrerequisites(commands: string[]): string | undefined {
  const missing: string[] = [];
  if (!isRoot()) missing.push('root (for ip netns)');
  for (const c of commands) if (!existsSync(c)) missing.push(c);
  if (missing.length === 0) return undefined;
  const why = `missing ${missing.join(', ')}; run: bash .ci/setup test`;
  if (process.env.CI) throw new Error(`real-peer test cannot run in CI: ${why}`);
  return why;
}
