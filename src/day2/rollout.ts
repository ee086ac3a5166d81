// A Talos upgrade rolled node by node, from the store's rollout rows
// (store/rollouts.ts). The order: boot assets for the target first (a node
// reimaged mid-rollout then installs the new version), control planes one
// at a time, each behind the etcd quorum gate, then workers in batches of
// `parallelism`. After each node: it must answer on the target version, its
// apid and kubelet be healthy, for a control plane etcd pass the gate
// again, and its Kubernetes node be Ready (kube-node.ts), before the next. Any failure pauses the rollout with the reason.
// "On the target" is the target version and schematic (a new schematic at
// the same version is a rollout too): the version from Version, the
// schematic from the node's "schematic" extension (running-schematic.ts).
//
// Never twice: 'calling' is committed before the upgrade call. A rollout
// that finds a node at 'calling' (a restart between commit and answer) asks
// the node its version and watches it for the reboot window; only a node
// that came back on the target counts as upgraded. One that stays on its old
// version is marked failed ("unknown whether it got the call") and the
// rollout pauses: only the operator's --resume sends the call again.
//
// The upgrade call follows talosctl (cmd/talosctl/cmd/talos/upgrade.go,
// v1.13.0): LifecycleService/Upgrade for nodes newer than v1.13.0-alpha.2,
// which only installs, then MachineService/Reboot; the legacy
// MachineService/Upgrade (install + reboot on its own) below.
import type Database from 'better-sqlite3';
import type { Store } from '../store/store.js';
import type { Logger } from '../log.js';
import { unhealthyServices } from '../talos/health.js';
import type { RolloutNodeRecord, RolloutRecord, RolloutStore } from '../store/rollouts.js';
import { RolloutClaimLostError, rolloutsOf } from '../store/pg/pg-rollouts.js';
import { recordInstallerImage } from './applied.js';
import { checkQuorum, type ControlPlane } from './quorum-gate.js';
import { runningSchematic } from './running-schematic.js';
import { StoppableRun, Stopped, type NodeTalosDeps } from './stoppable-run.js';

/** Whether a node on `version` has the LifecycleService (talosctl: ">1.13.0-alpha.2"). */
export function usesLifecycleService(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?/.exec(version);
  if (!m) return false;
  const [maj, min, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (maj !== 1) return maj > 1;
  if (min !== 13) return min > 13;
  if (patch > 0 || !m[4]) return true;
  const pre = /^-alpha\.(\d+)/.exec(m[4]);
  return m[4].startsWith('-beta') || m[4].startsWith('-rc') || (pre !== null && Number(pre[1]) > 2);
}

export interface RolloutDeps extends NodeTalosDeps {
  /** Where the rollout rows are: a store (PostgreSQL's with scaleOut.postgres) or a SQLite handle. */
  db: Database.Database | Store;
  /** Where node_config is (the daemon's store: shared with scaleOut.postgres); `db` when absent. */
  nodeConfigIn?: Store;
  /** Fetches the target's kernel and initramfs into the cache. */
  fetchAssets: (version: string, schematic: string) => Promise<void>;
  parallelism: number;
  /** How long a node may stay off the API / away from the target after its upgrade call. */
  returnTimeoutMs: number;
  pollMs: number;
  allowSingleMember?: boolean;
  /** Why the node's Kubernetes node is not Ready, undefined when it is (kube-node.ts storedKubeconfigCheck). */
  kubeNodeNotReady: (node: string) => Promise<string | undefined>;
  log?: Logger;
  /** Tests: called at each persisted step; a throw here is a crash at that point. */
  checkpoint?: (node: string, step: string) => void;
  /** Who runs it: this process (SQLite), or the leader session's backend pid (PostgreSQL, PgCoordination.sessionPid). */
  driver?: () => Promise<number>;
}

/** The engines' claim around a run: refused while another driver holds it; a run cut off by a lost claim ends like a stop. */
export async function runClaimed(rollouts: RolloutStore, id: number, driver: (() => Promise<number>) | undefined,
  drive: () => Promise<RolloutRecord>): Promise<RolloutRecord> {
  const me = driver ? await driver() : process.pid;
  const claim = rollouts.claim(id, me);
  if (!claim.ok) throw new RolloutBusyError(`rollout ${id} is being run by ${driver ? 'database session' : 'process'} ${claim.holder}`);
  try {
    return await drive();
  } catch (err) {
    if (err instanceof Stopped || err instanceof RolloutClaimLostError) return rollouts.get(id)!;
    throw err;
  } finally {
    rollouts.release(id, me);
  }
}

export class RolloutBusyError extends Error {
  override name = 'RolloutBusyError';
}

export class UpgradeRollout extends StoppableRun<RolloutDeps> {
  private readonly rollouts: RolloutStore;

  constructor(deps: RolloutDeps) {
    super(deps);
    this.rollouts = rolloutsOf(deps.db);
  }

  private version(node: string): Promise<string> {
    return this.ask(node, async (c) => (await c.version()).version.tag);
  }

  private get nodeConfig(): Store | Database.Database {
    return this.deps.nodeConfigIn ?? this.deps.db;
  }

  /** Whether the node runs the rollout's version and schematic (a node that names no schematic is not on it). */
  private async onTarget(r: RolloutRecord, node: string): Promise<boolean> {
    if ((await this.version(node)) !== r.targetVersion) return false;
    return (await this.ask(node, runningSchematic)) === r.schematic;
  }

  private controlPlanes(id: number): ControlPlane[] {
    return this.rollouts.nodes(id).filter((n) => n.role === 'controlplane')
      .flatMap((n) => { const endpoint = this.deps.endpointOf(n.node); return endpoint ? [{ name: n.node, endpoint }] : []; });
  }

  /**
   * Runs until the rollout is done or paused (by a failure, or by the
   * operator between nodes); returns it as stored then. Refused while
   * another process runs it.
   */
  async run(id: number): Promise<RolloutRecord> {
    const r = this.rollouts.get(id);
    if (!r) throw new Error(`no rollout ${id}`);
    // A Kubernetes roll (k8s-roll.ts) is not a Talos upgrade: never run it as one.
    if (r.kind !== 'talos' || r.state !== 'running') return r;
    return runClaimed(this.rollouts, id, this.deps.driver, () => this.drive(r));
  }

  private async drive(r: RolloutRecord): Promise<RolloutRecord> {
    const db = this.rollouts;
    const id = r.id;
    const stillRunning = () => db.get(id)!.state === 'running';
    const pause = (reason: string) => {
      this.deps.log?.warn({ rollout: id, reason }, 'rollout paused');
      db.setState(id, 'paused', reason);
      return db.get(id)!;
    };
    if (!r.assetsReady) {
      try {
        await this.deps.fetchAssets(r.targetVersion, r.schematic);
      } catch (err) {
        return pause(`boot assets for ${r.targetVersion} could not be fetched: ${(err as Error).message}`);
      }
      db.markAssetsReady(id);
    }
    const nodes = db.nodes(id);
    for (const n of nodes.filter((x) => x.role === 'controlplane')) {
      if (!stillRunning()) return db.get(id)!;
      const problem = await this.node(r, n);
      if (problem) return pause(`${n.node}: ${problem}`);
    }
    const workers = nodes.filter((x) => x.role === 'worker');
    const width = Math.max(1, this.deps.parallelism);
    for (let i = 0; i < workers.length; i += width) {
      if (!stillRunning()) return db.get(id)!;
      const problems = (await Promise.all(workers.slice(i, i + width).map(async (n) => {
        const p = await this.node(r, n);
        return p ? `${n.node}: ${p}` : undefined;
      }))).filter(Boolean);
      if (problems.length) return pause(problems.join('; '));
    }
    db.setState(id, 'done');
    return db.get(id)!;
  }

  /** Moves one node through its steps; a string is why it stopped. */
  private async node(r: RolloutRecord, n: RolloutNodeRecord): Promise<string | undefined> {
    const db = this.rollouts;
    const cp = n.role === 'controlplane';
    let step = n.state;
    const mark = (s: RolloutNodeRecord['state'], extra: Parameters<RolloutStore['setNodeStep']>[3] = {}) => {
      db.setNodeStep(r.id, n.node, s, extra);
      step = s;
      this.deps.checkpoint?.(n.node, s);
    };
    if (step === 'done') return undefined;
    if (step === 'failed') return n.reason || 'failed';
    if (step === 'pending') {
      if (cp) {
        const gate = await checkQuorum(this.controlPlanes(r.id), this.deps.connect, { takingDown: n.node, allowSingleMember: this.deps.allowSingleMember });
        if (!gate.ok) {
          db.setNodeStep(r.id, n.node, 'pending', { reason: `quorum gate: ${gate.reason}` });
          return `quorum gate: ${gate.reason}`;
        }
      }
      let current: string;
      try {
        current = await this.version(n.node);
      } catch (err) {
        db.setNodeStep(r.id, n.node, 'pending', { reason: `does not answer: ${(err as Error).message}` });
        return `does not answer: ${(err as Error).message}`;
      }
      let there: boolean;
      try {
        there = current === r.targetVersion && (await this.onTarget(r, n.node));
      } catch (err) {
        db.setNodeStep(r.id, n.node, 'pending', { reason: `does not answer: ${(err as Error).message}` });
        return `does not answer: ${(err as Error).message}`;
      }
      if (there) {
        recordInstallerImage(this.nodeConfig, n.node, r.image);
        mark('done', { versionAfter: current, finished: Date.now(), reason: 'already on the target version and schematic' });
        return undefined;
      }
      mark('calling', { started: Date.now() });
      const lifecycle = usesLifecycleService(current);
      let installed: { exitCode: number | undefined; messages: string[] } | undefined;
      try {
        if (lifecycle) installed = await this.ask(n.node, (c) => c.lifecycleUpgrade(r.image, { signal: this.stopSignal }));
        else await this.ask(n.node, (c) => c.upgradeLegacy(r.image));
      } catch (err) {
        // Stopped mid-call: nothing is written; the node stays at 'calling' and the next start asks it.
        this.throwIfStopped();
        const why = `upgrade refused: ${(err as Error).message}`;
        mark('failed', { reason: why, finished: Date.now() });
        return why;
      }
      this.deps.checkpoint?.(n.node, 'sent');
      if (installed && installed.exitCode !== 0) {
        const why = `installer exited with code ${installed.exitCode ?? 'none'}: ${installed.messages.slice(-3).join(' / ')}`;
        mark('failed', { reason: why, finished: Date.now() });
        return why;
      }
      mark(lifecycle ? 'installed' : 'called');
    }
    if (step === 'calling') {
      // A restart between 'calling' and its answer: only the node can say whether the call got through.
      if (!(await this.callReached(r, n))) {
        const why = `unknown whether the upgrade call reached it (rackboot stopped while sending it) and it stays on its old version; check it, then \`rackboot upgrade --resume\` sends it again`;
        mark('failed', { reason: why, finished: Date.now() });
        return why;
      }
      mark('called');
    }
    if (step === 'installed') {
      try {
        if (!(await this.onTarget(r, n.node))) await this.ask(n.node, (c) => c.reboot());
      } catch (err) {
        db.setNodeStep(r.id, n.node, 'installed', { reason: `reboot after install: ${(err as Error).message}` });
        return `reboot after install: ${(err as Error).message}`;
      }
      mark('called');
    }
    // called: back on the target and healthy.
    if (!(await this.reaches(r, n.node))) {
      const why = `not back on ${r.targetVersion} (schematic ${r.schematic.slice(0, 12)}…) within ${this.deps.returnTimeoutMs} ms`;
      db.setNodeStep(r.id, n.node, 'called', { reason: why });
      return why;
    }
    const unhealthy = await this.healthy(r, n);
    if (unhealthy) {
      db.setNodeStep(r.id, n.node, 'called', { reason: unhealthy });
      return unhealthy;
    }
    recordInstallerImage(this.nodeConfig, n.node, r.image);
    mark('done', { versionAfter: r.targetVersion, finished: Date.now() });
    return undefined;
  }

  /**
   * After a restart at 'calling': did the node get the upgrade? The legacy
   * call reboots on its own, so watching for the target within the window
   * tells. A LifecycleService install only shows after a reboot: the node is
   * rebooted once (the gate cleared it to go down) and watched the same way.
   */
  private async callReached(r: RolloutRecord, n: RolloutNodeRecord): Promise<boolean> {
    let before: string;
    try {
      before = n.versionBefore || (await this.version(n.node));
    } catch {
      return this.reaches(r, n.node);
    }
    if (usesLifecycleService(before)) {
      try {
        if (!(await this.onTarget(r, n.node))) await this.ask(n.node, (c) => c.reboot());
      } catch { /* rebooting already, or down: watch below */ }
    }
    return this.reaches(r, n.node);
  }

  /** Whether the node answers on the target version and schematic within the return window. */
  private async reaches(r: RolloutRecord, node: string): Promise<boolean> {
    const end = Date.now() + this.deps.returnTimeoutMs;
    for (;;) {
      try {
        if (await this.onTarget(r, node)) return true;
      } catch { /* rebooting */ }
      if (Date.now() > end) return false;
      await this.wait(this.deps.pollMs);
    }
  }

  /** apid and kubelet healthy, for a control plane etcd passing the gate, and the Kubernetes node Ready; polled within the return window. */
  private async healthy(r: RolloutRecord, n: RolloutNodeRecord): Promise<string | undefined> {
    const end = Date.now() + this.deps.returnTimeoutMs;
    let why = '';
    for (;;) {
      try {
        const services = await this.ask(n.node, (c) => c.serviceList());
        const sick = unhealthyServices(services);
        why = sick.length ? `services not healthy: ${sick.join(', ')}` : '';
      } catch (err) {
        why = `ServiceList: ${(err as Error).message}`;
      }
      if (!why && n.role === 'controlplane') {
        const gate = await checkQuorum(this.controlPlanes(r.id), this.deps.connect, { allowSingleMember: this.deps.allowSingleMember });
        why = gate.ok ? '' : `etcd after the upgrade: ${gate.reason}`;
      }
      if (!why) why = (await this.deps.kubeNodeNotReady(n.node)) ?? '';
      if (!why) return undefined;
      if (Date.now() > end) return why;
      await this.wait(this.deps.pollMs);
    }
  }
}
