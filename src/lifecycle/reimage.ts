// Reimage: the operator's "wipe this node and install it again". Marking is
// a store write (so the CLI works without a daemon); the reset is an
// attempt. When Talos's API answers, Reset wipes and reboots the node
// (wiping); when it doesn't (dead disk, hung node), the mark alone makes
// the next PXE boot install afresh, and the operator power-cycles it.
// Reimaging the last etcd member needs `destroyEtcd` (src/lifecycle/etcd-loss.ts).
import type { Logger } from '../log.js';
import type { NodeRecord } from '../store/store.js';
import type { StateMachine } from './machine.js';
import type { NodeResetter } from './ports.js';
import { canReimage, isNodeState, type NodeState } from './states.js';
import { forgetBootstrap, isLastEtcdMember, restoreBootstrap, type BootstrapRecords } from './etcd-loss.js';
import type { ReimageMarkStore } from '../store/reimage-marks.js';
import { reimageMarksOf } from '../store/pg/pg-reimage-marks.js';

export type ResetOutcome = 'sent' | 'failed' | 'unavailable';

export class ReimageError extends Error {
  constructor(message: string, readonly status: 404 | 409) {
    super(message);
  }
}

interface RequestData {
  step: 'requested'; previousState: NodeState; previousMarked: boolean; reason: string; by: string;
  /** Set when this reimage destroys the last etcd member: the bootstrap records it cleared. */
  bootstrapBefore?: BootstrapRecords;
  /** The mark's row in reimage_marks (absent in events written before marks had rows). */
  markId?: number;
}

export interface ReimageOptions {
  /** The operator's confirmation that reimaging the last etcd member, and so losing the cluster's state, is meant. */
  destroyEtcd?: boolean;
}

export class Reimager {
  /** Request event ids whose reset this process already attempted. */
  private readonly attempted = new Set<number>();
  /** Where the marks are: the shared database's with scaleOut.postgres, so a cancel on another appliance restores what this one's mark recorded. */
  private readonly marks: ReimageMarkStore;

  constructor(
    private readonly machine: StateMachine,
    private readonly resetter?: NodeResetter,
    private readonly log?: Logger,
  ) {
    this.marks = reimageMarksOf(machine.store);
  }

  /** Marks the node (reimage-pending, marked for install) and, if possible, resets it. */
  async reimage(name: string, reason: string, by: string, opts: ReimageOptions = {}): Promise<{ node: NodeRecord; reset: ResetOutcome; error?: string; etcdDestroyed: boolean }> {
    const etcdDestroyed = this.mark(name, reason, by, opts).etcdDestroyed;
    const outcome = await this.tryReset(name);
    return { node: this.machine.store.getNode(name)!, ...outcome, etcdDestroyed };
  }

  /**
   * The store half of a reimage, on its own: what `rackboot reimage` does
   * without a daemon. Checks and marks in one write-locked transaction, so
   * two operators reimaging the last two control planes at once cannot both
   * see the other as the member that stays (across appliances, the shared
   * marks' transaction serializes markings the same way).
   */
  mark(name: string, reason: string, by: string, opts: ReimageOptions = {}): { node: NodeRecord; etcdDestroyed: boolean } {
    const store = this.machine.store;
    return this.marks.marking(() => {
      const node = store.getNode(name);
      if (!node || !node.inInventory) throw new ReimageError(`no such node in the inventory: ${name}`, 404);
      if (!canReimage(node.state)) throw new ReimageError(`${name} is ${node.state}; a reimage is already under way`, 409);
      const last = isLastEtcdMember(store, node);
      if (last && !opts.destroyEtcd) {
        throw new ReimageError(
          `${name} is the last etcd member (no other control plane is ready): reimaging it wipes etcd, and with it every Kubernetes object of the cluster. ` +
            `The cluster is then bootstrapped again from the same secrets. To do that, confirm it: rackboot reimage ${name} --destroy-etcd, or tick "destroy etcd" on the page`,
          409,
        );
      }
      const data: RequestData = { step: 'requested', previousState: node.state, previousMarked: node.markedForInstall, reason, by };
      const r = this.machine.transition(name, 'reimage-pending', `reimage requested by ${by}: ${reason}`, { markedForInstall: true });
      if (!r.ok) throw new ReimageError(r.error, 409);
      if (last) data.bootstrapBefore = forgetBootstrap(store, name);
      data.markId = this.marks.record({
        node: name, stateSince: r.node.stateSince, markedAt: Date.now(), by, reason,
        previousState: node.state, previousMarked: node.markedForInstall, ...(data.bootstrapBefore ? { bootstrapBefore: data.bootstrapBefore } : {}),
      }).id;
      const message = last
        ? `reimage requested by ${by}: ${reason}; etcd is destroyed with it (last member, confirmed): the cluster is bootstrapped again on ${name} from the same secrets`
        : `reimage requested by ${by}: ${reason}`;
      store.appendEvent({ node: name, mac: node.mac, kind: 'reimage', message, data });
      return { node: r.node, etcdDestroyed: last };
    });
  }

  /** Cancels a reimage that has not started: back to the previous state and mark. */
  cancel(name: string, by: string): NodeRecord {
    const store = this.machine.store;
    const node = store.getNode(name);
    if (!node) throw new ReimageError(`no such node: ${name}`, 404);
    if (node.state !== 'reimage-pending') throw new ReimageError(`${name} is ${node.state}: only a pending reimage can be cancelled`, 409);
    // The mark's row first: the request event may have been written on another appliance's copy.
    const req = this.marks.current(node) ?? this.lastRequest(name)?.data;
    const previous = req && isNodeState(req.previousState) ? req.previousState : 'installed';
    const r = this.machine.transition(name, previous, `reimage cancelled by ${by}`, { markedForInstall: req?.previousMarked ?? false, from: 'reimage-pending' });
    if (!r.ok) throw new ReimageError(r.error, 409);
    // Nothing was wiped yet (the node is still reimage-pending): its etcd and the cluster stand.
    if (req?.bootstrapBefore) restoreBootstrap(store, req.bootstrapBefore);
    store.appendEvent({ node: name, mac: node.mac, kind: 'reimage', message: `reimage cancelled by ${by}`, data: { step: 'cancelled', by } });
    return r.node;
  }

  /** Tries Reset once per request for every pending reimage (the CLI marks without resetting). */
  async resetPending(): Promise<void> {
    // Only the pending rows: this runs every sweep, and reading the whole
    // inventory (each spec parsed) held the loop 32-48 ms with 5,005 nodes.
    for (const node of this.machine.store.nodesInStates(['reimage-pending'])) await this.tryReset(node.name);
  }

  private async tryReset(name: string): Promise<{ reset: ResetOutcome; error?: string }> {
    const store = this.machine.store;
    const req = this.lastRequest(name);
    if (!this.resetter || !req) return { reset: 'unavailable' };
    if (this.attempted.has(req.id)) return { reset: 'unavailable' };
    this.attempted.add(req.id);
    try {
      await this.resetter.reset(name);
    } catch (err) {
      const error = (err as Error).message;
      this.log?.warn({ node: name, err }, 'Talos Reset failed; the next PXE boot installs afresh');
      store.appendEvent({
        node: name, kind: 'reimage', data: { step: 'reset-failed', error },
        message: `Talos API reset failed (${error}); power-cycle the node: its next PXE boot installs afresh`,
      });
      return { reset: 'failed', error };
    }
    // The operator may have cancelled while the call was in flight; the transition table decides.
    const r = this.machine.transition(name, 'wiping', 'Talos accepted Reset: wiping and rebooting');
    return r.ok ? { reset: 'sent' } : { reset: 'failed', error: r.error };
  }

  private lastRequest(name: string): { id: number; data: RequestData } | undefined {
    const row = this.machine.store
      .stmt(`SELECT id, data_json FROM events WHERE node=? AND kind='reimage' AND json_extract(data_json, '$.step')='requested' ORDER BY id DESC LIMIT 1`)
      .get(name) as { id: number; data_json: string } | undefined;
    return row ? { id: row.id, data: JSON.parse(row.data_json) as RequestData } : undefined;
  }
}
