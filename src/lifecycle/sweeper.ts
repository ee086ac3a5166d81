// Per-state timeouts. A node that stays in a step longer than the settings
// allow becomes failed, with the step and how long it waited, so the page
// says "stuck installing for 30 min" instead of showing a node that is
// quietly never coming back. Timeouts count from state_since in the store,
// so they survive a daemon restart.
import type { NodeRecord } from '../store/store.js';
import type { StateMachine } from './machine.js';
import { STATE_MEANING, type NodeState, type StateTimeouts } from './states.js';

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** What the daemon adds through nodes' BMCs: one retry before failing (src/bmc/auto-power.ts). */
export interface StuckRetry {
  /** True when a retry was given instead of failing the node now. */
  retry(node: NodeRecord, reason: string): boolean;
  /** When the step's clock starts: the state change, or a retry given since. */
  clockStart(node: NodeRecord): number;
}

/** Fails every node stuck past its state's timeout, unless `stuck` gives it a retry; returns the failed names. */
export function sweepTimeouts(machine: StateMachine, timeouts: StateTimeouts, now: number, stuck?: StuckRetry): string[] {
  const failed: string[] = [];
  const timed = (Object.keys(timeouts) as NodeState[]).filter((s) => timeouts[s]);
  for (const node of machine.store.nodesInStates(timed)) {
    const limit = timeouts[node.state];
    if (!limit || now - node.stateSince <= limit * 1000) continue;
    const since = stuck ? stuck.clockStart(node) : node.stateSince;
    if (now - since <= limit * 1000) continue;
    const reason = `timed out: ${formatDuration(now - node.stateSince)} in ${node.state} (${STATE_MEANING[node.state]}); the limit is ${formatDuration(limit * 1000)}`;
    if (stuck?.retry(node, reason)) continue;
    const r = machine.fail(node.name, reason, node.state);
    if (r.ok) failed.push(node.name);
  }
  return failed;
}

/** Runs `tick` every `seconds` until stopped; errors are reported, never thrown into the timer. */
export function startSweeper(seconds: number, tick: () => void | Promise<void>, onError: (err: unknown) => void): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    Promise.resolve()
      .then(tick)
      .catch(onError)
      .finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
