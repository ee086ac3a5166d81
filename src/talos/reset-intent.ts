// A reimage's Reset once per mark across appliances (scaleOut.postgres): the
// leader records its intent to reset a node for this mark in the shared store
// before it calls Reset, and the outcome after. A new leader that finds an
// intent whose outcome was never recorded (its predecessor died around the
// call) asks the node rather than sending again: a node whose maintenance API
// answers took the Reset; one that answers nothing is rebooting; one still
// running its config is given a settle window (a Reset in progress keeps the
// API up while it leaves etcd) before the Reset counts as never sent.
import type { ClusterStateStore } from '../store/cluster-state-store.js';
import type { NodeRecord } from '../store/store.js';

/** How long an unrecorded Reset may still be in progress on a node that answers as configured. */
export const RESET_SETTLE_MS = 60_000;

export interface ResetIntent {
  /** Which mark this is for: when the node entered reimage-pending (a new mark is a new Reset). */
  mark: number;
  /** `sending`: recorded before the call, outcome unknown until replaced; `sent`: the node accepted it; `failed`: it refused. */
  phase: 'sending' | 'sent' | 'failed';
  at: number;
}

export const resetIntentKey = (node: string) => `reset:${node}`;

/** The mark of a node marked reimage-pending. */
export const markOf = (node: NodeRecord) => node.stateSince;

export async function readResetIntent(shared: ClusterStateStore, node: string): Promise<ResetIntent | undefined> {
  const raw = await shared.get(resetIntentKey(node));
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as ResetIntent;
    return typeof v.mark === 'number' && ['sending', 'sent', 'failed'].includes(v.phase) ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function recordResetIntent(shared: ClusterStateStore, node: string, intent: ResetIntent): Promise<void> {
  await shared.set(resetIntentKey(node), JSON.stringify(intent));
}
