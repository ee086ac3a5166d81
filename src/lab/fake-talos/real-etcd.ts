// Lab and test use only.
// A real etcd cluster (Debian's etcd-server) behind the fake control planes:
// one member per control plane, each a child process on loopback ports with
// its own temporary data directory. The fakes operate it through etcd's
// gRPC-gateway (JSON over HTTP on the client port, served by etcd 3.4+), so
// what they answer is what etcd itself decided: quorum, leadership, removal.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = process.env.RACKBOOT_ETCD ?? '/usr/bin/etcd';

/** One member as etcd reports it; ids are decimal uint64 strings, as the gateway prints them. */
export interface RealMember { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }
export interface RealStatus { memberId: string; leader: string; version: string; raftIndex: string; raftTerm: string; errors: string[]; isLearner: boolean }

/** etcd could not be reached at all. */
export class EtcdUnavailable extends Error {
  override name = 'EtcdUnavailable';
}

/** etcd answered with an error (its message, e.g. "etcdserver: unhealthy cluster"). */
export class EtcdRefused extends Error {
  override name = 'EtcdRefused';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Slot { name: string; clientUrl: string; peerUrl: string; dataDir: string; proc: ChildProcess | undefined; stderrTail: string; exited?: string }

/** A member's process ended while it was meant to be coming up (e.g. its port was taken). */
export class EtcdMemberExited extends Error {
  override name = 'EtcdMemberExited';
}

/** How many times start() picks fresh ports when a member exits before the cluster is healthy. */
const START_ATTEMPTS = 3;
const STDERR_TAIL_BYTES = 2048;

/** Answers of the gateway: a JSON body, or an error for a status >= 400 or a refused connection. */
async function gateway<T>(clientUrl: string, path: string, body: object, timeoutMs = 5000): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new EtcdUnavailable(`etcd at ${clientUrl}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status >= 400) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string; message?: string }).message ?? message;
    } catch { /* not JSON: keep the text */ }
    throw new EtcdRefused(`etcd at ${clientUrl}${path}: ${message}`);
  }
  return JSON.parse(text) as T;
}

type RawMember = { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean };

export class RealEtcdCluster {
  private readonly slots = new Map<string, Slot>();
  private readonly root = mkdtempSync(join(tmpdir(), 'rackboot-etcd-'));

  private constructor() {}

  /**
   * Starts `names.length` members as one new cluster and waits until every member answers.
   * A port is chosen by binding port 0 and letting it go, so between that and etcd's own bind any
   * outgoing connection on the box may take it as its ephemeral source port (both come from
   * ip_local_port_range); the member then exits ("address already in use") and could never turn
   * healthy. So a member that exits during start-up makes a fresh cluster on fresh ports, up to
   * START_ATTEMPTS times; `pickPort` is there for the test that takes a port on purpose.
   */
  static async start(names: string[], opts: { pickPort?: () => Promise<number> } = {}): Promise<RealEtcdCluster> {
    const pickPort = opts.pickPort ?? freePort;
    const exits: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const c = new RealEtcdCluster();
      try {
        for (const name of names) {
          const [cp, pp] = [await pickPort(), await pickPort()];
          c.slots.set(name, { name, clientUrl: `http://127.0.0.1:${cp}`, peerUrl: `http://127.0.0.1:${pp}`, dataDir: join(c.root, name), proc: undefined, stderrTail: '' });
        }
        for (const s of c.slots.values()) c.spawn(s);
        await c.waitHealthy(names, 20_000);
        return c;
      } catch (err) {
        await c.stop();
        if (!(err instanceof EtcdMemberExited)) throw err;
        exits.push(`attempt ${attempt}: ${err.message}`);
        if (attempt >= START_ATTEMPTS) throw new EtcdMemberExited(`etcd did not start in ${START_ATTEMPTS} attempts:\n${exits.join('\n')}`);
      }
    }
  }

  /** Starts one member; each, a restarted one too, is told the whole cluster as it was first made. */
  private spawn(s: Slot): void {
    const initialCluster = [...this.slots.values()].map((x) => `${x.name}=${x.peerUrl}`).join(',');
    s.proc = spawn(ETCD_BINARY, [
      '--name', s.name, '--data-dir', s.dataDir,
      '--listen-client-urls', s.clientUrl, '--advertise-client-urls', s.clientUrl,
      '--listen-peer-urls', s.peerUrl, '--initial-advertise-peer-urls', s.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `rackboot-${process.pid}-${this.root}`,
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const proc = s.proc;
    s.stderrTail = '';
    s.exited = undefined;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => { s.stderrTail = (s.stderrTail + chunk).slice(-STDERR_TAIL_BYTES); });
    // 'close' rather than 'exit': by then stderr has been read to its end, so the tail holds the reason.
    proc.once('close', (code, signal) => { if (s.proc === proc) s.exited = String(code ?? signal); });
  }

  async waitHealthy(names: string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const gone = names.map((n) => this.slots.get(n)).find((s) => s?.proc && s.exited !== undefined);
      if (gone) throw new EtcdMemberExited(`etcd member ${gone.name} exited (${gone.exited}): ${this.stderrOf(gone)}`);
      const ok = await Promise.all(names.map((n) => this.quorumRead(n).then(() => true, () => false)));
      if (ok.every(Boolean)) return;
      if (Date.now() > end) {
        const said = names.map((n) => `${n}: ${this.stderrOf(this.slots.get(n))}`).join('; ');
        throw new Error(`etcd members ${names.join(', ')} not healthy after ${timeoutMs} ms (stderr ${said})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private stderrOf(s: Slot | undefined): string {
    return s?.stderrTail.trim() || 'nothing on stderr';
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  clientUrl(name: string): string {
    const s = this.slots.get(name);
    if (!s) throw new Error(`no etcd member slot ${name}`);
    return s.clientUrl;
  }

  running(name: string): boolean {
    const p = this.slots.get(name)?.proc;
    return Boolean(p && p.exitCode === null && p.signalCode === null);
  }

  /** Kills the member's process (SIGKILL): a dead member, still listed by the others. */
  async kill(name: string): Promise<void> {
    const s = this.slots.get(name);
    const p = s?.proc;
    if (!s || !p) return;
    s.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGKILL'); });
  }

  /** Starts a killed member again on its own data directory (a reboot): it rejoins with what it had. */
  restart(name: string): void {
    const s = this.slots.get(name);
    if (!s || this.running(name)) return;
    this.spawn(s);
  }

  /** A linearizable read through this member: succeeds only while it is part of a quorum. */
  async quorumRead(name: string): Promise<void> {
    await gateway(this.clientUrl(name), '/v3/kv/range', { key: Buffer.from('health').toString('base64') }, 2000);
  }

  async memberList(via: string): Promise<RealMember[]> {
    const r = await gateway<{ members?: RawMember[] }>(this.clientUrl(via), '/v3/cluster/member/list', {});
    return (r.members ?? []).map((m) => ({ id: m.ID, name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [], isLearner: Boolean(m.isLearner) }));
  }

  async status(name: string): Promise<RealStatus> {
    const r = await gateway<{ header?: { member_id?: string }; leader?: string; version?: string; raftIndex?: string; raftTerm?: string; errors?: string[]; isLearner?: boolean }>(
      this.clientUrl(name), '/v3/maintenance/status', {}, 2000);
    return { memberId: r.header?.member_id ?? '0', leader: r.leader ?? '0', version: r.version ?? '', raftIndex: r.raftIndex ?? '0', raftTerm: r.raftTerm ?? '0', errors: r.errors ?? [], isLearner: Boolean(r.isLearner) };
  }

  /** MoveLeader, sent to the current leader `via` (etcd refuses it from a follower). */
  async moveLeader(via: string, targetId: string): Promise<void> {
    await gateway(this.clientUrl(via), '/v3/maintenance/transfer-leadership', { targetID: targetId });
  }

  async removeMember(via: string, id: string): Promise<void> {
    await gateway(this.clientUrl(via), '/v3/cluster/member/remove', { ID: id });
  }

  /** Kills every member and removes the data directories. */
  async stop(): Promise<void> {
    for (const name of this.slots.keys()) await this.kill(name);
    rmSync(this.root, { recursive: true, force: true });
  }
}
