// The node state machine: the only writer of node states. Every change goes
// through transition(), which checks the TRANSITIONS table (and, when the
// caller says where it saw the node, that it is still there), commits the
// new state and its event in one store transaction, and refuses (and logs)
// anything else.
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import { StaleStateError } from '../store/state-store.js';
import type { NodeStateWriter } from './ports.js';
import { isTransitionAllowed, type NodeState } from './states.js';
import { bootstrapState } from './cluster-state.js';

/** What the Talos API client and the config endpoint report about a node. */
export type Observation =
  /** Talos answered on 50000 without a machine config. */
  | { kind: 'talos-maintenance'; detail?: string }
  /** The node pulled its machine config from /config. */
  | { kind: 'config-served'; detail?: string }
  /** ApplyConfiguration was accepted (push mode). */
  | { kind: 'config-applied'; detail?: string }
  | { kind: 'install-started'; detail?: string }
  /** Talos runs from disk with its config (configured mode answers over mTLS). */
  | { kind: 'install-finished'; detail?: string }
  /** mTLS API healthy; `etcdMember` is required for a control plane. */
  | { kind: 'healthy'; etcdMember?: boolean; detail?: string }
  | { kind: 'unhealthy'; detail: string }
  /** A step failed; `step` defaults to the node's current state. */
  | { kind: 'error'; detail: string; step?: string };

export type TransitionResult =
  | { ok: true; node: NodeRecord; changed: boolean }
  | { ok: false; node: NodeRecord | undefined; error: string };

export interface TransitionExtra {
  markedForInstall?: boolean;
  failedStep?: string;
  /**
   * The state the caller read before a slow step (a Talos call). If the node
   * has moved since, the move is refused: the table alone would let, say, a
   * reimage-pending node go on to installing, since cancelling a reimage
   * returns to any earlier state.
   */
  from?: NodeState;
}

export class StateMachine implements NodeStateWriter {
  constructor(
    readonly store: Store,
    private readonly log?: Logger,
  ) {}

  /**
   * Moves `name` to `to`. Staying in the same state records an event only.
   * Returns an error (and writes nothing but a 'rejected' event) when the
   * table forbids the move, or when the node is no longer in `extra.from`.
   */
  transition(name: string, to: NodeState, reason: string, extra: TransitionExtra = {}): TransitionResult {
    // Write-locked from the read to the write: `rackboot reimage` marks nodes from another process.
    return this.store.db.transaction(() => this.checkedTransition(name, to, reason, extra)).immediate();
  }

  private checkedTransition(name: string, to: NodeState, reason: string, extra: TransitionExtra): TransitionResult {
    const node = this.store.getNode(name);
    if (!node) return { ok: false, node, error: `no such node: ${name}` };
    const { from: expected, ...change } = extra;
    if (expected !== undefined && node.state !== expected) {
      return this.refuse(node, to, reason, `stale transition ${expected} → ${to} refused: ${name} is ${node.state} now: ${reason}`, { expected });
    }
    if (node.state === to && change.markedForInstall === undefined) {
      this.store.appendEvent({ node: name, mac: node.mac, kind: 'observation', message: `${to}: ${reason}` });
      return { ok: true, node, changed: false };
    }
    if (node.state !== to && !isTransitionAllowed(node.state, to)) {
      return this.refuse(node, to, reason, `illegal transition ${node.state} → ${to} refused: ${reason}`);
    }
    let after: NodeRecord;
    try {
      // Compare-and-set on the state read above: in one SQLite file the write lock already holds it still;
      // on a shared PostgreSQL store another appliance may have moved the node since (no lost update).
      after = this.store.setState(name, to, reason, { ...change, from: node.state });
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      return this.refuse(this.store.getNode(name) ?? node, to, reason, `stale transition ${node.state} → ${to} refused: ${name} is ${err.actual} now: ${reason}`, { expected: node.state });
    }
    this.log?.info({ node: name, from: node.state, to, reason }, 'node state changed');
    return { ok: true, node: after, changed: true };
  }

  private refuse(node: NodeRecord, to: NodeState, reason: string, error: string, data: { expected?: NodeState } = {}): TransitionResult {
    this.log?.warn({ node: node.name, from: node.state, to }, error);
    this.store.appendEvent({ node: node.name, mac: node.mac, kind: 'rejected', message: error, data: { from: node.state, to, reason, ...data } });
    return { ok: false, node, error };
  }

  fail(name: string, reason: string, step?: string): TransitionResult {
    return this.transition(name, 'failed', reason, step ? { failedStep: step } : {});
  }

  clusterBootstrapped(): boolean {
    return bootstrapState(this.store) === 'bootstrapped';
  }

  /** Applies a Talos API or config-endpoint observation. */
  observe(name: string, obs: Observation): TransitionResult {
    const node = this.store.getNode(name);
    if (!node) return { ok: false, node, error: `no such node: ${name}` };
    this.store.touch(name);
    const d = (fallback: string) => obs.detail ?? fallback;
    switch (obs.kind) {
      case 'talos-maintenance':
        return this.transition(name, 'maintenance', d('Talos API answers in maintenance mode'));
      case 'config-served':
      case 'config-applied':
        return this.transition(name, 'configuring', d(obs.kind === 'config-served' ? 'machine config pulled' : 'machine config applied'));
      case 'install-started':
        return this.transition(name, 'installing', d('install started'));
      case 'install-finished':
        return this.transition(name, 'installed', d('Talos runs from disk'), { markedForInstall: false });
      case 'healthy': {
        if (node.role === 'controlplane' && !obs.etcdMember) {
          return this.noteOnly(node, 'Talos API healthy; not an etcd member yet');
        }
        if (!this.clusterBootstrapped()) return this.noteOnly(node, 'Talos API healthy; waiting for the cluster bootstrap');
        if (node.state === 'ready') return { ok: true, node, changed: false };
        // A node seen healthy that we never saw install (it was installed before) is installed first.
        if (node.state !== 'installed' && node.state !== 'failed') {
          const r = this.transition(name, 'installed', 'Talos API healthy: runs from disk', { markedForInstall: false });
          if (!r.ok) return r;
        }
        return this.transition(name, 'ready', d(node.role === 'controlplane' ? 'Talos API healthy and etcd member' : 'Talos API healthy'), { markedForInstall: false });
      }
      case 'unhealthy':
        return node.state === 'ready' ? this.transition(name, 'installed', obs.detail) : this.noteOnly(node, obs.detail);
      case 'error':
        return this.fail(name, obs.detail, obs.step);
    }
  }

  private noteOnly(node: NodeRecord, message: string): TransitionResult {
    this.store.appendEvent({ node: node.name, mac: node.mac, kind: 'observation', message });
    return { ok: true, node, changed: false };
  }
}
