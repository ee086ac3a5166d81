// Reimaging the last etcd member destroys the cluster's state: etcd's data
// lives in /var/lib/etcd on the EPHEMERAL partition (siderolabs/talos
// pkg/machinery/constants/constants.go, v1.12.0), which the reset wipes.
// Upstream's graceful reset would first leave etcd (LeaveEtcd →
// etcd.Client.LeaveCluster, removing the node's own member), but with no
// other member there is no cluster left to hand the data to. So such a
// reimage needs the operator's explicit confirmation, and afterwards the
// store forgets the bootstrap, so the node, once installed again, is
// bootstrapped afresh from the same secrets.
import type { NodeRecord, Store } from '../store/store.js';
import { BOOTSTRAP_CLAIM_KEY, BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, ETCD_MEMBERS_KEY, KUBECONFIG_STALE_KEY, bootstrapState, etcdMembers } from './cluster-state.js';
import type { NodeState } from './states.js';

/** States in which a node has never run this install's etcd: nothing of it is on its disk. */
const NO_ETCD_YET: readonly NodeState[] = ['registered', 'booting', 'maintenance', 'configuring', 'installing'];

/**
 * Whether another control plane still holds the cluster's etcd, in the
 * store's view: it is ready (healthy and an etcd member, see STATE_MEANING),
 * or installed and seen in etcd's member list by the last health check. A
 * node that is failed, wiping or reimage-pending is not counted: when in
 * doubt, the operator is asked.
 */
function otherMemberHolds(store: Store, except: string): boolean {
  const seen = new Set(etcdMembers(store));
  return store.listNodes().some((n) => n.name !== except && n.inInventory && n.role === 'controlplane'
    && (n.state === 'ready' || (n.state === 'installed' && seen.has(n.name))));
}

/** True when reimaging `node` would wipe the last copy of the cluster's etcd. */
export function isLastEtcdMember(store: Store, node: NodeRecord): boolean {
  if (node.role !== 'controlplane') return false;
  if (NO_ETCD_YET.includes(node.state)) return false;
  // Never bootstrapped: there is no cluster state to lose.
  if (bootstrapState(store) === 'pending' && etcdMembers(store).length === 0) return false;
  return !otherMemberHolds(store, node.name);
}

const KEYS = [BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, BOOTSTRAP_CLAIM_KEY, ETCD_MEMBERS_KEY, KUBECONFIG_STALE_KEY] as const;
/** The bootstrap records as they were before a confirmed etcd loss, so a cancel can put them back. */
export type BootstrapRecords = Partial<Record<(typeof KEYS)[number], string>>;

/**
 * Forgets the cluster's bootstrap: not bootstrapped, no claim, no known
 * members, the stored kubeconfig stale. The bootstrap is pinned to `node`,
 * the one that comes back with an empty etcd, so it is the one bootstrapped
 * again. Returns what was there before.
 */
export function forgetBootstrap(store: Store, node: string): BootstrapRecords {
  const before: BootstrapRecords = {};
  for (const k of KEYS) {
    const v = store.getClusterState(k);
    if (v !== undefined) before[k] = v;
  }
  store.setClusterState(BOOTSTRAP_KEY, 'pending');
  store.setClusterState(BOOTSTRAP_NODE_KEY, node);
  store.setClusterState(BOOTSTRAP_CLAIM_KEY, JSON.stringify({ owner: '', until: 0 }));
  store.setClusterState(ETCD_MEMBERS_KEY, '[]');
  store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
  return before;
}

/** Undoes forgetBootstrap when the reimage is cancelled before anything was wiped. */
export function restoreBootstrap(store: Store, before: BootstrapRecords): void {
  store.setClusterState(BOOTSTRAP_KEY, before[BOOTSTRAP_KEY] ?? 'pending');
  store.setClusterState(BOOTSTRAP_NODE_KEY, before[BOOTSTRAP_NODE_KEY] ?? '');
  store.setClusterState(BOOTSTRAP_CLAIM_KEY, before[BOOTSTRAP_CLAIM_KEY] ?? JSON.stringify({ owner: '', until: 0 }));
  store.setClusterState(ETCD_MEMBERS_KEY, before[ETCD_MEMBERS_KEY] ?? '[]');
  store.setClusterState(KUBECONFIG_STALE_KEY, before[KUBECONFIG_STALE_KEY] ?? 'false');
}
