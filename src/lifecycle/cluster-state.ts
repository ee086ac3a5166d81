// The cluster-wide facts kept in the store's cluster_state table, under one
// set of keys: the Talos bootstrap writes them, the state machine, the admin
// page and /metrics read them. (They once read a key nothing wrote, so the
// page never showed a real bootstrap.)
import type { Store } from '../store/store.js';

export const BOOTSTRAP_KEY = 'talos.bootstrap';
export const BOOTSTRAP_NODE_KEY = 'talos.bootstrap.node';
export const BOOTSTRAP_CLAIM_KEY = 'talos.bootstrap.claim';
/** JSON list of etcd member hostnames, as last seen by the health check. */
export const ETCD_MEMBERS_KEY = 'talos.etcd.members';
/** 'true' once etcd was destroyed (src/lifecycle/etcd-loss.ts): the next healthy cluster's kubeconfig replaces the stored one. */
export const KUBECONFIG_STALE_KEY = 'talos.kubeconfig.stale';
/**
 * branch pg-local, several appliances on one store: when (epoch ms) an appliance last marked its kubeconfig stale.
 * Each appliance keeps its own file; one fetched before this is stale too (kubeconfigFetchReason, src/talos/health.ts).
 */
export const KUBECONFIG_STALE_SINCE_KEY = 'talos.kubeconfig.stale-since';

export type BootstrapState = 'pending' | 'bootstrapping' | 'bootstrapped';

export function bootstrapState(store: Store): BootstrapState {
  return (store.readers.clusterState(BOOTSTRAP_KEY) as BootstrapState | undefined) ?? 'pending';
}

export function etcdMembers(store: Store): string[] {
  try {
    const raw: unknown = JSON.parse(store.readers.clusterState(ETCD_MEMBERS_KEY) ?? '[]');
    return Array.isArray(raw) ? raw.map(String) : [];
  } catch {
    return []; // unreadable: show none
  }
}
