// Bootstrap etcd exactly once per cluster. The guarantee rests on the store:
// "bootstrapping" is committed before Bootstrap is sent and "bootstrapped"
// as soon as it succeeds. Whenever the record says anything but
// "bootstrapped", etcd is asked first (EtcdMemberList): if it has members,
// the cluster is bootstrapped and Bootstrap is never sent. So a crash before,
// during or after the call, or an operator's `talosctl bootstrap`, never
// leads to a second Bootstrap. The node is pinned in the store too, so an
// inventory edit cannot move the bootstrap to another machine.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { TalosClient } from './client.js';
import type { EndpointOf } from './endpoints.js';
import { isCode } from './errors.js';

import { BOOTSTRAP_CLAIM_KEY, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, bootstrapState } from '../lifecycle/cluster-state.js';

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
  log?: Logger;
}

/**
 * The daemon and `rackboot bootstrap` may run at once against the same store.
 * Only the holder of an unexpired claim, taken in an immediate (write-locked)
 * transaction, may go on to ask etcd and send Bootstrap.
 */
export function claimBootstrap(store: Store, owner: string, now = Date.now()): boolean {
  return store.db.transaction(() => {
    const raw = store.getClusterState(BOOTSTRAP_CLAIM_KEY);
    const held = raw ? (JSON.parse(raw) as { owner: string; until: number }) : undefined;
    if (held && held.owner !== owner && held.until > now) return false;
    store.setClusterState(BOOTSTRAP_CLAIM_KEY, JSON.stringify({ owner, until: now + CLAIM_MS }));
    return true;
  }).immediate();
}

export function releaseBootstrap(store: Store, owner: string): void {
  store.db.transaction(() => {
    const raw = store.getClusterState(BOOTSTRAP_CLAIM_KEY);
    if (raw && (JSON.parse(raw) as { owner: string }).owner === owner) store.setClusterState(BOOTSTRAP_CLAIM_KEY, JSON.stringify({ owner: '', until: 0 }));
  }).immediate();
}

/** The control plane that bootstraps: the one recorded, else the inventory's `bootstrap: true` node. */
export function bootstrapNode(store: Store): NodeRecord | undefined {
  const pinned = store.getClusterState(BOOTSTRAP_NODE_KEY);
  if (pinned) return store.getNode(pinned);
  return store.listNodes().find((n) => n.role === 'controlplane' && n.spec.bootstrap);
}

export class ClusterBootstrap {
  private readonly owner = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  constructor(private readonly deps: BootstrapDeps) {}

  private record(node: NodeRecord | undefined, message: string, data?: unknown): void {
    this.deps.store.appendEvent({ node: node?.name ?? null, mac: node?.mac ?? null, kind: 'bootstrap', message, data });
    this.deps.log?.info({ node: node?.name }, message);
  }

  private done(node: NodeRecord, sent: boolean, why: string): BootstrapOutcome {
    this.deps.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
    this.record(node, why);
    return { kind: 'bootstrapped', node: node.name, sent };
  }

  /** One attempt; call again until it says bootstrapped. */
  async step(): Promise<BootstrapOutcome> {
    const { store } = this.deps;
    const state = bootstrapState(store);
    const node = bootstrapNode(store);
    if (state === 'bootstrapped') return { kind: 'bootstrapped', node: node?.name ?? '', sent: false };
    if (!node) return { kind: 'waiting', reason: 'no control plane is marked to bootstrap' };
    if (node.state !== 'installed' && node.state !== 'ready') return { kind: 'waiting', reason: `${node.name} is ${node.state}, not installed` };
    const endpoint = this.deps.endpointOf(node);
    if (!endpoint) return { kind: 'waiting', reason: `no address known for ${node.name}` };

    if (!claimBootstrap(store, this.owner)) return { kind: 'waiting', reason: 'another rackboot process is bootstrapping' };
    const client = this.deps.connect(endpoint);
    try {
      // Re-read under the claim: the other process may have finished meanwhile.
      if (bootstrapState(store) === 'bootstrapped') return { kind: 'bootstrapped', node: node.name, sent: false };
      let members;
      try {
        members = await client.etcdMemberList();
      } catch (err) {
        return { kind: 'waiting', reason: `${node.name} does not answer over mTLS yet: ${(err as Error).message}` };
      }
      if (members.length > 0) {
        return this.done(node, false, `etcd already has ${members.length} member(s) on ${node.name}; not sending Bootstrap`);
      }
      store.setClusterState(BOOTSTRAP_NODE_KEY, node.name);
      store.setClusterState(BOOTSTRAP_KEY, 'bootstrapping');
      this.record(node, `bootstrapping etcd on ${node.name} (${endpoint})`, { endpoint, resumed: state === 'bootstrapping' });
      try {
        await client.bootstrap();
      } catch (err) {
        // etcd says it already exists: the earlier call went through.
        if (isCode(err, GrpcStatus.ALREADY_EXISTS)) return this.done(node, true, `etcd on ${node.name} already bootstrapped (AlreadyExists)`);
        // Outcome unknown; "bootstrapping" stays recorded, and the next step asks etcd before anything else.
        this.record(node, `Bootstrap on ${node.name} failed: ${(err as Error).message}`, { error: (err as Error).message });
        return { kind: 'waiting', reason: `Bootstrap failed: ${(err as Error).message}` };
      }
      return this.done(node, true, `etcd bootstrapped on ${node.name}`);
    } finally {
      client.close();
      releaseBootstrap(store, this.owner);
    }
  }
}
