// One pass over the cluster, repeated: push configs to nodes in maintenance,
// notice installed nodes answering over mTLS, bootstrap once, wait for
// health and fetch the kubeconfig, reset nodes marked for reimage. Every
// decision is read from the store at the start of the pass, so dropping the
// orchestrator at any moment and building a new one over the same store
// resumes without repeating anything that must happen once.
import type { NodeStateWriter, ResetFallback } from '../lifecycle/ports.js';
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import { ClusterBootstrap, type BootstrapOutcome } from './bootstrap.js';
import { TalosClient } from './client.js';
import type { AdminIdentity } from './credentials.js';
import type { EndpointOf } from './endpoints.js';
import { FirstContact, TALKS_IN_FLIGHT } from './first-contact.js';
import { PORT_CHECK_MS, portAccepts } from './port-open.js';
import { inLanes } from '../in-lanes.js';
import { ClusterHealth, type HealthDeps, type HealthOutcome } from './health.js';
import { moveNode } from './node-state.js';
import { recordTalosVersion } from '../day2/applied.js';
import { readNodeHostname } from './node-hostname.js';
import { ResetStep, type ResetOutcome } from './reset.js';
import type { RetryPolicy } from './rpc.js';
import { ALWAYS_LEADER, type Leadership } from './leadership.js';
import { applyEtcdLossRecovery } from '../lifecycle/etcd-loss.js';
import type { ClusterStateStore } from '../store/cluster-state-store.js';

export interface OrchestratorDeps {
  store: Store;
  /** The lifecycle's state machine: every node state the Talos steps set goes through it. */
  states: NodeStateWriter;
  admin: AdminIdentity;
  endpointOf: EndpointOf;
  dataDir: string;
  /** Push mode needs rendered configs; without it, push first contact is off. */
  renderConfig?: (nodeName: string, chosen?: { installDisk: string }) => Promise<Buffer>;
  checkInstallDisk?: boolean;
  maintenancePinSha256?: (nodeName: string) => string | undefined;
  policy?: Partial<RetryPolicy>;
  pollIntervalMs?: number;
  pollTimeoutMs?: number;
  /** Powers through the BMC nodes whose Reset Talos did not take (src/bmc/auto-power.ts); returns at once. */
  resetFallback?: ResetFallback;
  /** Several instances on one database: only the leader runs the Talos steps (default: always this one). */
  leadership?: Leadership;
  /** Several appliances: how long an unrecorded Reset may be under way (src/talos/reset-intent.ts). */
  resetSettleMs?: number;
  /** Where the bootstrap claim, intent and outcome live (default: the local store). */
  clusterState?: ClusterStateStore;
  /** First contact's TLS talks, and the Version asks of installing nodes, at once (default: first-contact.ts's TALKS_IN_FLIGHT). */
  talksInFlight?: number;
  /** How many nodes the health step probes per pass and at once (default: health.ts's limits). */
  healthProbes?: HealthDeps['probes'];
  log?: Logger;
}

/** A node whose port accepts and whose apid is up answers Version in milliseconds; 3 s as first contact's polls. */
const VERSION_TIMEOUT_MS = 3000;

export interface PassReport {
  /** Another instance leads: this pass called no Talos API. */
  standby: boolean;
  pushed: string[];
  installed: string[];
  bootstrap: BootstrapOutcome;
  health: HealthOutcome;
  resets: ResetOutcome[];
}

export class TalosOrchestrator {
  private readonly clients = new Set<TalosClient>();
  private readonly firstContact: FirstContact | undefined;
  private readonly bootstrap: ClusterBootstrap;
  private readonly health: ClusterHealth;
  private readonly reset: ResetStep;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: OrchestratorDeps) {
    const connect = (endpoint: string) => this.track(TalosClient.configured(endpoint, deps.admin, { policy: deps.policy }));
    const common = { store: deps.store, states: deps.states, connect, endpointOf: deps.endpointOf, log: deps.log };
    this.bootstrap = new ClusterBootstrap({ ...common, clusterState: deps.clusterState });
    this.health = new ClusterHealth({ ...common, dataDir: deps.dataDir, clusterState: deps.clusterState, probes: deps.healthProbes });
    this.reset = new ResetStep({ ...common, connectMaintenance: (ep, node) => this.maintenance(ep, node), clusterState: deps.clusterState, resetSettleMs: deps.resetSettleMs });
    if (deps.renderConfig) {
      this.firstContact = new FirstContact({
        store: deps.store, states: deps.states, renderConfig: deps.renderConfig, checkInstallDisk: deps.checkInstallDisk, policy: deps.policy,
        pollIntervalMs: deps.pollIntervalMs, pollTimeoutMs: deps.pollTimeoutMs, talksInFlight: deps.talksInFlight, log: deps.log,
        connect: (ep, node) => this.maintenance(ep, node),
      });
    }
  }

  private track(c: TalosClient): TalosClient {
    if (this.closed) c.close();
    this.clients.add(c);
    return c;
  }

  /** Named by the caller: finding the node by its endpoint read every node, at every maintenance poll of every booting node. */
  private async maintenance(endpoint: string, node: string): Promise<TalosClient> {
    const pin = this.deps.maintenancePinSha256?.(node);
    return this.track(await TalosClient.maintenance(endpoint, { pinSha256: pin, policy: { retries: 0, ...this.deps.policy } }));
  }

  /**
   * An installing node that answers Version over mTLS has installed and rebooted into its config.
   * A node mid-reboot answers nothing: a cheap port check (no TLS, cut at PORT_CHECK_MS) for every
   * such node at once passes it over, and only nodes whose port accepts are asked, a few at a time.
   * They were asked one after another with the client's 10 s deadline, so each host that did not
   * answer at all (no ARP reply, or one behind a router) could hold the pass for up to that long.
   */
  private async noticeInstalled(): Promise<string[]> {
    const asked = this.deps.store.nodesInStates(['installing', 'configuring'])
      .map((node) => ({ node, ep: this.deps.endpointOf(node) }))
      .filter((a): a is { node: NodeRecord; ep: string } => !!a.ep);
    const open = await Promise.all(asked.map((a) => portAccepts(a.ep, PORT_CHECK_MS)));
    const answering = asked.filter((_, i) => open[i]);
    const done = await inLanes(answering, this.deps.talksInFlight ?? TALKS_IN_FLIGHT, async ({ node, ep }) => {
      if (this.closed) return undefined;
      const answered = await this.installedVersion(node, ep);
      if (!answered) return undefined;
      // An mTLS answer is a sighting too, like a DHCP request.
      this.deps.store.touch(node.name);
      return this.markInstalled(node, answered) ? node.name : undefined;
    });
    return done.filter((n): n is string => !!n);
  }

  /** What the node says over mTLS, or undefined when it does not answer Version (not up from its disk yet). */
  private async installedVersion(node: NodeRecord, ep: string): Promise<string | undefined> {
    const c = this.track(TalosClient.configured(ep, this.deps.admin, { policy: { timeoutMs: VERSION_TIMEOUT_MS, ...this.deps.policy, retries: 0 } }));
    try {
      const tag = (await c.version()).version.tag;
      // Maintenance mode (≤ v1.12) has no Version; installed, it answers, so this is where the running version is learnt.
      recordTalosVersion(this.deps.store, node.name, tag);
      // Its own name now comes from its config; best effort (a failure leaves the maintenance-mode record).
      await readNodeHostname(this.deps.store, node.name, c, 'installed');
      return `Talos ${tag} answers over mTLS at ${ep}`;
    } catch {
      return undefined;
    } finally {
      c.close();
      this.clients.delete(c);
    }
  }

  /** Through installing (the path shows the step we inferred) to installed; false when the node moved meanwhile. */
  private markInstalled(node: NodeRecord, reason: string): boolean {
    if (node.state === 'configuring') {
      const r = moveNode(this.deps, node, 'installing', 'the node answers over mTLS: its config was applied');
      if (!r.ok) return false;
      node = r.node;
    }
    return moveNode(this.deps, node, 'installed', reason, { markedForInstall: false }).ok;
  }

  async pass(): Promise<PassReport> {
    if (!(await (this.deps.leadership ?? ALWAYS_LEADER).lead())) {
      const reason = 'another instance leads the Talos steps';
      return { standby: true, pushed: [], installed: [], bootstrap: { kind: 'waiting', reason }, health: { kind: 'waiting', reason }, resets: [] };
    }
    // Several appliances: a confirmed etcd loss resets the shared bootstrap keys here, under the lock.
    if (this.deps.clusterState) await applyEtcdLossRecovery(this.deps.store, this.deps.clusterState, this.deps.log);
    const pushed: string[] = [];
    const installed = await this.noticeInstalled();
    if (this.firstContact) {
      const candidates = this.deps.store.nodesInStates(['booting', 'maintenance', 'configuring']);
      const results = await Promise.all(candidates.map(async (n) => {
        const ep = this.deps.endpointOf(n);
        return ep && !this.closed ? ((await this.firstContact!.push(n.name, ep)) === 'installing' ? n.name : undefined) : undefined;
      }));
      pushed.push(...results.filter((r): r is string => !!r));
    }
    const bootstrap = await this.bootstrap.step();
    const health = await this.health.step();
    const resets = await this.reset.step();
    if (!this.closed) this.deps.resetFallback?.reimageFallbacks();
    for (const c of this.clients) if (!this.closed) c.close();
    this.clients.clear();
    return { standby: false, pushed, installed, bootstrap, health, resets };
  }

  /** Runs passes every `intervalMs` until close(). */
  start(intervalMs = 5000): void {
    this.loop ??= (async () => {
      while (!this.closed) {
        try {
          await this.pass();
        } catch (err) {
          this.deps.log?.error({ err }, 'talos pass failed');
        }
        if (this.closed) break;
        await new Promise<void>((r) => {
          const t = setTimeout(r, intervalMs);
          this.wake = () => (clearTimeout(t), r());
        });
      }
    })();
  }

  /** Cancels every call in flight and stops the loop. */
  async close(): Promise<void> {
    this.closed = true;
    this.firstContact?.close();
    for (const c of this.clients) c.close();
    this.wake?.();
    await this.loop;
  }
}
