// A node's way through the install, read from its state history: which of
// the stages booting → maintenance → configuring → installing → installed →
// ready it reached in its current run (since its last PXE boot) and how long
// each took. Pure: the history comes from the store's state events.
import type { NodeState } from './states.js';

export const STAGES = ['booting', 'maintenance', 'configuring', 'installing', 'installed', 'ready'] as const;
export type Stage = (typeof STAGES)[number];

/** One recorded state change (a `state` event's data and time). */
export interface StateChange {
  at: number;
  from: NodeState;
  to: NodeState;
}

export interface StageTiming {
  stage: Stage;
  /**
   * done: passed; current: the node is in it; failed: the node failed in it;
   * skipped: a later stage was reached without it (the pull path has no
   * maintenance); todo: not reached.
   */
  status: 'done' | 'current' | 'failed' | 'skipped' | 'todo';
  enteredAt: number | null;
  /** Time spent in the stage; for the current stage, so far. */
  ms: number | null;
}

const isStage = (s: NodeState): s is Stage => (STAGES as readonly string[]).includes(s);

/**
 * The current run starts at the last change into booting (a PXE boot); a
 * node adopted from its disk never booted here and its run starts at its
 * first change. Each stage counts from its first entry in the run to the
 * next change out of it, or to `now` while the node is still in it.
 */
export function stageTimeline(node: { state: NodeState; failedStep: string | null }, history: readonly StateChange[], now: number): StageTiming[] {
  let start = 0;
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.to === 'booting') { start = i; break; }
  const run = history.slice(start);
  const entered = new Map<Stage, number>();
  const left = new Map<Stage, number>();
  for (const c of run) {
    if (isStage(c.from) && entered.has(c.from) && !left.has(c.from)) left.set(c.from, c.at);
    if (isStage(c.to) && !entered.has(c.to)) entered.set(c.to, c.at);
  }
  const furthest = STAGES.reduce((f, s, i) => (entered.has(s) ? i : f), -1);
  const failedIn = node.state === 'failed' && node.failedStep && isStage(node.failedStep as NodeState) ? (node.failedStep as Stage) : undefined;
  return STAGES.map((stage, i): StageTiming => {
    const at = entered.get(stage);
    if (at === undefined) return { stage, status: i < furthest ? 'skipped' : 'todo', enteredAt: null, ms: null };
    const current = node.state === stage && i === furthest;
    const end = current ? now : (left.get(stage) ?? now);
    const status = failedIn === stage && i === furthest ? 'failed' : current ? 'current' : 'done';
    return { stage, status, enteredAt: at, ms: Math.max(0, end - at) };
  });
}

/** Whether the node was ever installed (it has a Talos on disk that a reimage would wipe). */
export function everInstalled(state: NodeState, history: readonly StateChange[]): boolean {
  return state === 'installed' || state === 'ready' || history.some((c) => c.to === 'installed' || c.to === 'ready');
}
