// Reimage: a node the operator marked `reimage-pending` gets Reset over mTLS
// (reboot, wipe STATE and EPHEMERAL on the system disk, and only the data
// disks the inventory lists under wipe.userDisks), then goes to
// `wiping` marked for install, so its next PXE boot installs it afresh.
// Reset is graceful (leave etcd cleanly) unless the node is the last etcd
// member or is unhealthy, where a graceful reset would refuse or hang.
// Only nodes whose stored state is reimage-pending are ever reset.
import type { NodeRecord, Store } from '../store/store.js';
import { TalosClient, talosAnswers } from './client.js';
import type { EndpointOf } from './endpoints.js';
import { unhealthyServices } from './health.js';
import { moveNode, type NodeStateDeps } from './node-state.js';
import { nodeHardware } from '../store/hardware.js';
import { userDisksToWipe } from './wipe-policy.js';
import type { ClusterStateStore } from '../store/cluster-state-store.js';
import { reimageMarksOf } from '../store/pg/pg-reimage-marks.js';
import type { ReimageMarkStore } from '../store/reimage-marks.js';
import { markOf, readResetIntent, recordResetIntent, RESET_SETTLE_MS, type ResetIntent } from './reset-intent.js';

export const WIPE_PARTITIONS = ['STATE', 'EPHEMERAL'];

export interface ResetDeps extends NodeStateDeps {
  store: Store;
  connect: (endpoint: string) => TalosClient;
  /** For telling "already wiped" (maintenance API answers) from "down". */
  connectMaintenance?: (endpoint: string, node: string) => Promise<TalosClient>;
  endpointOf: EndpointOf;
  /** Several appliances (scaleOut.postgres): the shared store the Reset intent per mark goes to (reset-intent.ts). */
  clusterState?: ClusterStateStore;
  /** See RESET_SETTLE_MS. */
  resetSettleMs?: number;
}

/** `refused`: the node left reimage-pending (a cancel, say) while Reset was on its way; it keeps that state. */
export type ResetOutcome = { node: string; result: 'reset' | 'already-wiped' | 'waiting' | 'refused'; graceful?: boolean; reason?: string };

/** The orchestrator's reset step; the operator's side that marks nodes is `Reimager` in src/lifecycle/reimage.ts. */
export class ResetStep {
  /** Why a node's reset is held, as last told: a hold that lasts many passes is one event, not one per pass. */
  private readonly held = new Map<string, string>();

  /** The operator's marks, where the nodes are: a Reset is sent once per mark id, whichever appliance leads. */
  private readonly marks: ReimageMarkStore;

  constructor(private readonly deps: ResetDeps) {
    this.marks = reimageMarksOf(deps.store);
  }

  async step(): Promise<ResetOutcome[]> {
    const out: ResetOutcome[] = [];
    for (const n of this.deps.store.nodesInStates(['reimage-pending'])) out.push(await this.resetOne(n.name));
    return out;
  }

  private event(node: NodeRecord, message: string, data?: unknown): void {
    this.deps.store.appendEvent({ node: node.name, mac: node.mac, kind: 'reset', message, data });
    this.deps.log?.info({ node: node.name }, message);
  }

  private async isInMaintenance(endpoint: string, node: string): Promise<boolean> {
    const connect = this.deps.connectMaintenance ?? ((ep: string) => TalosClient.maintenance(ep, { policy: { retries: 0, timeoutMs: 3000 } }));
    return talosAnswers(() => connect(endpoint, node), (c) => c.disks());
  }

  async resetOne(name: string): Promise<ResetOutcome> {
    const { store } = this.deps;
    const node = store.getNode(name);
    if (!node || node.state !== 'reimage-pending') return { node: name, result: 'waiting', reason: `not marked for reimage (${node?.state ?? 'unknown'})` };
    const endpoint = this.deps.endpointOf(node);
    if (!endpoint) return { node: name, result: 'waiting', reason: 'no address known' };
    const { clusterState: shared } = this.deps;
    if (shared) {
      const held = await this.recordedIntent(shared, node, endpoint);
      if (held) return held;
    }
    const client = this.deps.connect(endpoint);
    try {
      let graceful = true;
      let why = 'healthy';
      try {
        const services = await client.serviceList();
        const bad = unhealthyServices(services);
        if (bad.length) (graceful = false), (why = `${bad.join(', ')} unhealthy`);
      } catch (err) {
        // A node that cannot list its services cannot leave etcd gracefully either.
        if (await this.isInMaintenance(endpoint, name)) {
          const r = moveNode(this.deps, node, 'wiping', 'already reset: the maintenance API answers', { markedForInstall: true });
          return r.ok ? { node: name, result: 'already-wiped' } : { node: name, result: 'refused', reason: r.error };
        }
        graceful = false;
        why = `unreachable over mTLS: ${(err as Error).message}`;
      }
      if (graceful && node.role === 'controlplane') {
        const members = await client.etcdMemberList().catch(() => undefined);
        if (!members) (graceful = false), (why = 'etcd member list unavailable');
        else if (members.length === 1 && members[0]!.hostname) (graceful = false), (why = 'last etcd member');
      }
      // Data disks are wiped only when the inventory lists them (wipe-policy.ts).
      const installDisk = typeof node.spec.installDisk === 'string' ? node.spec.installDisk : nodeHardware(store, name)?.installDisk?.path;
      const plan = await userDisksToWipe(node.spec, client, installDisk).catch((err: Error) => ({ ok: false as const, why: `wipe.userDisks: cannot list the node's disks: ${err.message}` }));
      if (!plan.ok) {
        if (this.held.get(name) !== plan.why) this.event(node, `reset of ${name} held: ${plan.why}`, { why: plan.why });
        this.held.set(name, plan.why);
        return { node: name, result: 'waiting', reason: plan.why };
      }
      this.held.delete(name);
      // Re-read just before acting: an operator may have cleared the mark meanwhile.
      if (store.getNode(name)?.state !== 'reimage-pending') return { node: name, result: 'waiting', reason: 'mark cleared' };
      const data = plan.paths.length ? ` and data disks ${plan.paths.join(', ')}` : '';
      const mark = markOf(node, this.marks);
      if (shared) {
        // Persisted before the call, on the leader's session: an appliance that no longer leads cannot get here.
        try {
          await recordResetIntent(shared, name, { mark, phase: 'sending', at: Date.now() });
        } catch (err) {
          return { node: name, result: 'waiting', reason: `Reset intent not recorded: ${(err as Error).message}` };
        }
      }
      this.event(node, `resetting ${name} (graceful ${graceful}: ${why}; wiping ${WIPE_PARTITIONS.join(', ')}${data}; reboot)`, { graceful, why, endpoint, userDisks: plan.paths });
      try {
        await client.reset({ graceful, reboot: true, systemPartitionsToWipe: WIPE_PARTITIONS, userDisksToWipe: plan.paths });
      } catch (err) {
        if (shared) await recordResetIntent(shared, name, { mark, phase: 'failed', at: Date.now() }).catch(() => undefined);
        this.event(node, `Reset of ${name} failed: ${(err as Error).message}`, { error: (err as Error).message });
        return { node: name, result: 'waiting', reason: (err as Error).message };
      }
      if (shared) {
        await recordResetIntent(shared, name, { mark, phase: 'sent', at: Date.now() }).catch((err: Error) =>
          this.deps.log?.warn({ node: name, err: err.message }, 'Reset sent, but its outcome was not recorded in the shared store: the next leader will ask the node'));
      }
      const r = moveNode(this.deps, node, 'wiping', `Reset sent (graceful ${graceful}); next PXE boot installs again`, { markedForInstall: true });
      if (!r.ok) {
        // Talos took the Reset, so the disk is wiped whatever the store says: tell the operator what to do.
        this.event(node, `Reset of ${name} was accepted, but meanwhile it became ${r.node?.state}: Talos wipes it anyway; if its reimage was cancelled, mark it again`, { error: r.error });
        return { node: name, result: 'refused', graceful, reason: r.error };
      }
      return { node: name, result: 'reset', graceful };
    } finally {
      client.close();
    }
  }

  /**
   * What a shared Reset intent for this node's current mark decides: an
   * outcome when the Reset was (or may have been) sent, undefined when a Reset
   * may be sent now. Never a second Reset while the first may be under way.
   */
  private async recordedIntent(shared: ClusterStateStore, node: NodeRecord, endpoint: string): Promise<ResetOutcome | undefined> {
    const name = node.name;
    let intent: ResetIntent | undefined;
    try {
      intent = await readResetIntent(shared, name);
    } catch (err) {
      return { node: name, result: 'waiting', reason: `shared store unavailable: ${(err as Error).message}` };
    }
    if (!intent || intent.mark !== markOf(node, this.marks) || intent.phase === 'failed') return undefined;
    const toWiping = (reason: string): ResetOutcome => {
      const r = moveNode(this.deps, node, 'wiping', reason, { markedForInstall: true });
      return r.ok ? { node: name, result: 'already-wiped', reason } : { node: name, result: 'refused', reason: r.error };
    };
    if (intent.phase === 'sent') return toWiping('the Reset for this mark was sent (recorded in the shared store); next PXE boot installs again');
    // `sending`: the previous leader died between recording the intent and recording the outcome.
    if (await this.isInMaintenance(endpoint, name)) {
      await recordResetIntent(shared, name, { ...intent, phase: 'sent', at: Date.now() }).catch(() => undefined);
      return toWiping('already reset: the maintenance API answers (a Reset intent was recorded by the previous leader)');
    }
    const settle = this.deps.resetSettleMs ?? RESET_SETTLE_MS;
    const age = Date.now() - intent.at;
    if (age < settle) {
      return { node: name, result: 'waiting', reason: `a Reset recorded ${Math.round(age / 1000)} s ago may still be under way; asking the node again before sending another` };
    }
    return undefined; // the node still runs its config well past the window: that Reset never reached it
  }
}
