// Bootstrap etcd exactly once per cluster, designed from what upstream Talos
// exposes before and after a bootstrap (etcd-status.ts):
// - The store decides first: "bootstrapped" ends it; the bootstrap node is
//   pinned; a claim (immediate transaction) lets one process at a time on.
// - The pinned node is asked what its etcd is. Members: already
//   bootstrapped, recorded, never sent. etcd starting or running, or no
//   answer: wait. Only "etcd service not started, member list fails" (a
//   control plane waiting for `talosctl bootstrap`) lets it go on.
// - Every other installed control plane is asked too: if one already runs
//   etcd the cluster exists (bootstrapped elsewhere, e.g. by hand), and a
//   Bootstrap here would start a second, separate etcd (split brain): it is
//   recorded as bootstrapped and never sent. One that does not answer
//   blocks the bootstrap until it does.
// - "bootstrapping" is committed before the call. After a restart that
//   recorded intent means the node is asked again, as above, never that the
//   call is repeated blindly; Bootstrap's own refusal on a non-empty etcd
//   data dir (AlreadyExists) is recorded as bootstrapped.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { TalosClient } from './client.js';
import type { EndpointOf } from './endpoints.js';
import { isCode } from './errors.js';
import { describeEtcd, etcdStatus } from './etcd-status.js';

import { BOOTSTRAP_CLAIM_KEY, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, bootstrapState, type BootstrapState } from '../lifecycle/cluster-state.js';
import { NODE_STATES } from '../lifecycle/states.js';
import { claimLocal, releaseLocal, SqliteClusterState, type ClusterStateStore } from '../store/cluster-state-store.js';

export { BOOTSTRAP_CLAIM_KEY, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, bootstrapState };
const CLAIM_MS = 60_000;

export type BootstrapOutcome =
  | { kind: 'bootstrapped'; node: string; sent: boolean }
  | { kind: 'waiting'; reason: string };

export interface BootstrapDeps {
  store: Store;
  /** A configured (mTLS) client for an endpoint. */
  connect: (endpoint: string) => TalosClient;
  endpointOf: EndpointOf;
  /** Where the claim, intent and outcome live: the local store by default, PostgreSQL when several instances share a cluster. */
  clusterState?: ClusterStateStore;
  log?: Logger;
}

/**
 * The daemon and `rackboot bootstrap` may run at once against the same store.
 * Only the holder of an unexpired claim, taken in an immediate (write-locked)
 * transaction, may go on to ask etcd and send Bootstrap.
 */
export function claimBootstrap(store: Store, owner: string, now = Date.now()): boolean {
  return claimLocal(store, BOOTSTRAP_CLAIM_KEY, owner, now, CLAIM_MS);
}

export function releaseBootstrap(store: Store, owner: string): void {
  releaseLocal(store, BOOTSTRAP_CLAIM_KEY, owner);
}

/** The control plane that bootstraps: the one recorded, else the inventory's `bootstrap: true` node. */
export function bootstrapNode(store: Store, pinned = store.getClusterState(BOOTSTRAP_NODE_KEY)): NodeRecord | undefined {
  if (pinned) return store.getNode(pinned);
  return store.nodesInStates(NODE_STATES, 'controlplane').find((n) => n.spec.bootstrap);
}

export class ClusterBootstrap {
  private readonly owner = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  private readonly shared: ClusterStateStore;

  constructor(private readonly deps: BootstrapDeps) {
    this.shared = deps.clusterState ?? new SqliteClusterState(deps.store);
  }

  private record(node: NodeRecord | undefined, message: string, data?: unknown): void {
    this.deps.store.appendEvent({ node: node?.name ?? null, mac: node?.mac ?? null, kind: 'bootstrap', message, data });
    this.deps.log?.info({ node: node?.name }, message);
  }

  private async done(node: NodeRecord, sent: boolean, why: string): Promise<BootstrapOutcome> {
    await this.shared.set(BOOTSTRAP_KEY, 'bootstrapped');
    this.record(node, why);
    return { kind: 'bootstrapped', node: node.name, sent };
  }

  /**
   * Whether etcd already runs on another control plane (the cluster exists:
   * bootstrapping the pinned node would split it), or whether one cannot be
   * asked (it might run etcd: wait). Nodes not yet installed run no etcd.
   */
  private async otherControlPlanes(pinned: NodeRecord): Promise<{ kind: 'none' } | { kind: 'running' | 'unknown'; reason: string }> {
    const others = this.deps.store.nodesInStates(['installed', 'ready'], 'controlplane').filter((n) => n.name !== pinned.name);
    const unknown: string[] = [];
    for (const other of others) {
      const endpoint = this.deps.endpointOf(other);
      if (!endpoint) {
        unknown.push(`${other.name}: no address known`);
        continue;
      }
      const client = this.deps.connect(endpoint);
      try {
        const s = await etcdStatus(client);
        if (s.kind === 'members') {
          return { kind: 'running', reason: `etcd already runs on ${other.name} (${s.names.length} member(s)); not sending Bootstrap to ${pinned.name}, which would start a second cluster` };
        }
        if (s.kind === 'unknown' || s.kind === 'starting') unknown.push(`${other.name}: ${describeEtcd(s)}`);
      } finally {
        client.close();
      }
    }
    return unknown.length ? { kind: 'unknown', reason: `cannot rule out etcd on another control plane: ${unknown.join('; ')}` } : { kind: 'none' };
  }

  /** One attempt; call again until it says bootstrapped. */
  async step(): Promise<BootstrapOutcome> {
    const { store } = this.deps;
    const shared = this.shared;
    const state = ((await shared.get(BOOTSTRAP_KEY)) ?? 'pending') as BootstrapState;
    const node = bootstrapNode(store, await shared.get(BOOTSTRAP_NODE_KEY));
    if (state === 'bootstrapped') return { kind: 'bootstrapped', node: node?.name ?? '', sent: false };
    if (!node) return { kind: 'waiting', reason: 'no control plane is marked to bootstrap' };
    if (node.state !== 'installed' && node.state !== 'ready') return { kind: 'waiting', reason: `${node.name} is ${node.state}, not installed` };
    const endpoint = this.deps.endpointOf(node);
    if (!endpoint) return { kind: 'waiting', reason: `no address known for ${node.name}` };

    if (!(await shared.claim(BOOTSTRAP_CLAIM_KEY, this.owner, Date.now(), CLAIM_MS))) return { kind: 'waiting', reason: 'another rackboot process is bootstrapping' };
    const client = this.deps.connect(endpoint);
    try {
      // Re-read under the claim: the other process may have finished meanwhile.
      if ((await shared.get(BOOTSTRAP_KEY)) === 'bootstrapped') return { kind: 'bootstrapped', node: node.name, sent: false };
      const own = await etcdStatus(client);
      if (own.kind === 'members') {
        return await this.done(node, false, `etcd already has ${own.names.length} member(s) on ${node.name}; not sending Bootstrap`);
      }
      if (own.kind !== 'not-started') return { kind: 'waiting', reason: `${node.name}: ${describeEtcd(own)}` };
      const elsewhere = await this.otherControlPlanes(node);
      if (elsewhere.kind !== 'none') return elsewhere.kind === 'running' ? await this.done(node, false, elsewhere.reason) : { kind: 'waiting', reason: elsewhere.reason };

      await shared.set(BOOTSTRAP_NODE_KEY, node.name);
      await shared.set(BOOTSTRAP_KEY, 'bootstrapping');
      this.record(node, `bootstrapping etcd on ${node.name} (${endpoint}): ${describeEtcd(own)}`, { endpoint, resumed: state === 'bootstrapping' });
      try {
        await client.bootstrap();
      } catch (err) {
        // Upstream refuses a non-empty etcd data dir: an earlier call went through.
        if (isCode(err, GrpcStatus.ALREADY_EXISTS)) return await this.done(node, true, `etcd on ${node.name} already bootstrapped (AlreadyExists)`);
        // Outcome unknown (or refused, e.g. FailedPrecondition "time is not in sync yet"); "bootstrapping" stays recorded, and the next step asks the node first.
        this.record(node, `Bootstrap on ${node.name} failed: ${(err as Error).message}`, { error: (err as Error).message });
        return { kind: 'waiting', reason: `Bootstrap failed: ${(err as Error).message}` };
      }
      return await this.done(node, true, `etcd bootstrapped on ${node.name}`);
    } finally {
      client.close();
      // A lost database session cannot release; the claim then expires on its own.
      await shared.release(BOOTSTRAP_CLAIM_KEY, this.owner).catch(() => undefined);
    }
  }
}
