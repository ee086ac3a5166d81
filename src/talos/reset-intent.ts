// A reimage's Reset once per mark across appliances (scaleOut.postgres): the
// leader records its intent to reset a node for this mark in the shared store
// before it calls Reset, and the outcome after. A new leader that finds an
// intent whose outcome was never recorded (its predecessor died around the
// call) asks the node rather than sending again: a node whose maintenance API
// answers took the Reset; one that answers nothing is rebooting; one still
// running its config is given a settle window (a Reset in progress keeps the
// API up while it leaves etcd) before the Reset counts as never sent.
import type { ClusterStateStore } from '../store/cluster-state-store.js';
import type { ReimageMarkStore } from '../store/reimage-marks.js';
import type { NodeRecord } from '../store/store.js';

/** How long an unrecorded Reset may still be in progress on a node that answers as configured. */
export const RESET_SETTLE_MS = 60_000;

export interface ResetIntent {
  /**
   * Which mark this is for (a new mark is a new Reset): `id <n>`, the mark's
   * row in reimage_marks (the same on every appliance); `since <ms>`, when the
   * node entered reimage-pending, for a node marked without a row.
   */
  mark: string;
  /** `sending`: recorded before the call, outcome unknown until replaced; `sent`: the node accepted it; `failed`: it refused. */
  phase: 'sending' | 'sent' | 'failed';
  at: number;
}

export const resetIntentKey = (node: string) => `reset:${node}`;

/** The mark of a node marked reimage-pending. */
export function markOf(node: NodeRecord, marks: ReimageMarkStore): string {
  const mark = marks.current(node);
  return mark ? `id ${mark.id}` : `since ${node.stateSince}`;
}

export async function readResetIntent(shared: ClusterStateStore, node: string): Promise<ResetIntent | undefined> {
  const raw = await shared.get(resetIntentKey(node));
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Omit<ResetIntent, 'mark'> & { mark: unknown };
    // A number is an intent written before marks had ids: the node's state_since.
    const mark = typeof v.mark === 'number' ? `since ${v.mark}` : v.mark;
    return typeof mark === 'string' && ['sending', 'sent', 'failed'].includes(v.phase) ? { ...v, mark } : undefined;
  } catch {
    return undefined;
  }
}

export async function recordResetIntent(shared: ClusterStateStore, node: string, intent: ResetIntent): Promise<void> {
  await shared.set(resetIntentKey(node), JSON.stringify(intent));
}
