// Reimaging the last etcd member destroys the cluster's state: etcd's data
// lives in /var/lib/etcd on the EPHEMERAL partition (siderolabs/talos
// pkg/machinery/constants/constants.go, v1.12.0), which the reset wipes.
// Upstream's graceful reset would first leave etcd (LeaveEtcd →
// etcd.Client.LeaveCluster, removing the node's own member), but with no
// other member there is no cluster left to hand the data to. So such a
// reimage needs the operator's explicit confirmation, and afterwards the
// store forgets the bootstrap, so the node, once installed again, is
// bootstrapped afresh from the same secrets.
//
// With several appliances on one PostgreSQL (scaleOut.postgres) the
// bootstrap keys are shared and only the leader writes them, fenced by its
// lock (src/store/pg/coordination.ts). So there the reimage only records the
// operator's confirmed request in the shared cluster_state, and the leader
// resets the shared keys on its next pass (applyEtcdLossRecovery): a second
// Bootstrap can follow only a request the shared state holds, never an
// appliance's local view.
import type { ClusterStateStore } from '../store/cluster-state-store.js';
import { FREE_CLAIM } from '../store/cluster-state-store.js';
import type { Logger } from '../log.js';
import { SharedStore } from '../store/pg/shared-store.js';
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
  return store.nodesInStates(['ready', 'installed'], 'controlplane')
    .some((n) => n.name !== except && (n.state === 'ready' || seen.has(n.name)));
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
    const v = store.readers.clusterState(k);
    if (v !== undefined) before[k] = v;
  }
  if (store instanceof SharedStore) {
    requestRecovery(store, { id: `${node}@${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, node, cancelled: false });
    return before;
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
  if (store instanceof SharedStore) {
    // The leader puts the shared keys back if it had reset them (applyEtcdLossRecovery).
    const req = parseRecord<RecoveryRequest>(store.shared.getClusterState(ETCD_LOSS_REQUEST_KEY));
    if (req && !req.cancelled) requestRecovery(store, { ...req, cancelled: true });
    return;
  }
  store.setClusterState(BOOTSTRAP_KEY, before[BOOTSTRAP_KEY] ?? 'pending');
  store.setClusterState(BOOTSTRAP_NODE_KEY, before[BOOTSTRAP_NODE_KEY] ?? '');
  store.setClusterState(BOOTSTRAP_CLAIM_KEY, before[BOOTSTRAP_CLAIM_KEY] ?? JSON.stringify({ owner: '', until: 0 }));
  store.setClusterState(ETCD_MEMBERS_KEY, before[ETCD_MEMBERS_KEY] ?? '[]');
  store.setClusterState(KUBECONFIG_STALE_KEY, before[KUBECONFIG_STALE_KEY] ?? 'false');
}

/** A confirmed etcd-loss reimage, as any appliance records it in the shared cluster_state. */
export const ETCD_LOSS_REQUEST_KEY = 'talos.etcd.loss.request';
/** What the leader did about the request (only the leader writes it, on its locked session). */
export const ETCD_LOSS_APPLIED_KEY = 'talos.etcd.loss.applied';

interface RecoveryRequest { id: string; node: string; cancelled: boolean }
interface RecoveryApplied { id: string; before: BootstrapRecords; restored: boolean }

function parseRecord<T>(raw: string | undefined): T | undefined {
  try {
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined; // unreadable: act on nothing
  }
}

function requestRecovery(store: SharedStore, req: RecoveryRequest): void {
  store.shared.setClusterState(ETCD_LOSS_REQUEST_KEY, JSON.stringify(req));
}


/**
 * The leader's half, once per pass while it leads: resets the shared
 * bootstrap keys for a request not yet applied, and puts them back for a
 * request cancelled after it applied it. Every shared write goes through
 * `shared` (the leader's fenced session): an appliance that lost the lock
 * fails here and changes nothing. Returns what it did.
 */
export async function applyEtcdLossRecovery(store: Store, shared: ClusterStateStore, log?: Logger): Promise<'reset' | 'restored' | undefined> {
  const req = parseRecord<RecoveryRequest>(await shared.get(ETCD_LOSS_REQUEST_KEY));
  if (!req) return undefined;
  const applied = parseRecord<RecoveryApplied>(await shared.get(ETCD_LOSS_APPLIED_KEY));
  if (!req.cancelled && applied?.id !== req.id) {
    const before: BootstrapRecords = {};
    for (const k of [BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, BOOTSTRAP_CLAIM_KEY, ETCD_MEMBERS_KEY] as const) {
      const v = await shared.get(k);
      if (v !== undefined) before[k] = v;
    }
    const stale = store.getClusterState(KUBECONFIG_STALE_KEY);
    if (stale !== undefined) before[KUBECONFIG_STALE_KEY] = stale;
    await shared.set(BOOTSTRAP_KEY, 'pending');
    await shared.set(BOOTSTRAP_NODE_KEY, req.node);
    await shared.set(BOOTSTRAP_CLAIM_KEY, FREE_CLAIM);
    await shared.set(ETCD_MEMBERS_KEY, '[]');
    // The leader's own kubeconfig file is the one to replace (each appliance keeps its own).
    store.setClusterState(KUBECONFIG_STALE_KEY, 'true');
    await shared.set(ETCD_LOSS_APPLIED_KEY, JSON.stringify({ id: req.id, before, restored: false } satisfies RecoveryApplied));
    log?.warn({ node: req.node }, 'etcd loss confirmed: the shared bootstrap is reset; the node is bootstrapped again once installed');
    return 'reset';
  }
  if (req.cancelled && applied?.id === req.id && !applied.restored) {
    const b = applied.before;
    await shared.set(BOOTSTRAP_KEY, b[BOOTSTRAP_KEY] ?? 'pending');
    await shared.set(BOOTSTRAP_NODE_KEY, b[BOOTSTRAP_NODE_KEY] ?? '');
    await shared.set(BOOTSTRAP_CLAIM_KEY, b[BOOTSTRAP_CLAIM_KEY] ?? FREE_CLAIM);
    await shared.set(ETCD_MEMBERS_KEY, b[ETCD_MEMBERS_KEY] ?? '[]');
    store.setClusterState(KUBECONFIG_STALE_KEY, b[KUBECONFIG_STALE_KEY] ?? 'false');
    await shared.set(ETCD_LOSS_APPLIED_KEY, JSON.stringify({ ...applied, restored: true } satisfies RecoveryApplied));
    log?.info({ node: req.node }, 'etcd-loss reimage cancelled: the shared bootstrap records are back');
    return 'restored';
  }
  return undefined;
}
