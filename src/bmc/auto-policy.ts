// When rackboot powers a node through its BMC on its own. Pure decisions
// read from the store's events, so a daemon restart neither repeats an
// action nor forgets one: the executor (auto-power.ts) only carries them out.
import type { NodeRecord, Store } from '../store/store.js';
import { PROVISIONING_STATES } from '../lifecycle/states.js';
import type { PowerSettings } from '../settings/settings.js';
import { POWER_EVENT } from './operate.js';

/** Actor names of the automatic paths in `power` events. */
export const RESET_FALLBACK_ACTOR = 'reimage-fallback';
export const STUCK_RETRY_ACTOR = 'stuck-retry';
/** Event kind of a stuck-provisioning retry (recorded before the BMC is asked). */
export const STUCK_RETRY_EVENT = 'stuck-retry';

/** `bmc`: PXE-cycle it now; `by-hand`: it is due but has no BMC, tell the operator (once per request). */
export type FallbackDecision = { act: 'bmc' | 'by-hand'; why: string } | { act: false; reason: string };

/** Step of the `reimage` event that tells the operator of a node without a BMC to power-cycle it. */
export const BY_HAND_STEP = 'power-by-hand';

interface Ev { id: number; at: number; kind: string; data: Record<string, unknown> | null }

function eventsOf(store: Store, node: string): Ev[] {
  return store.events({ node, limit: 5000 }).map((e) => ({ id: e.id, at: e.at, kind: e.kind, data: e.data as Record<string, unknown> | null }));
}

/**
 * Reimage fallback: a node marked reimage-pending whose Talos API has not
 * taken Reset for `resetFallbackSeconds`, or refused it `resetFallbackAttempts`
 * times, is PXE-cycled through its BMC, once per reimage request. A failed or
 * held-back BMC attempt does not count as that once (the guards pace retries).
 */
export function decideResetFallback(store: Store, node: NodeRecord, now: number, cfg: PowerSettings): FallbackDecision {
  if (node.state !== 'reimage-pending' || !node.markedForInstall) return { act: false, reason: `not marked for reimage (${node.state})` };
  const events = eventsOf(store, node.name);
  const request = events.filter((e) => e.kind === 'reimage' && e.data?.step === 'requested').at(-1);
  const since = request?.id ?? 0;
  const after = events.filter((e) => e.id > since);
  if (after.some((e) => e.kind === POWER_EVENT && e.data?.actor === RESET_FALLBACK_ACTOR && e.data?.ok === true)) {
    return { act: false, reason: 'already power-cycled through the BMC for this reimage' };
  }
  const failedResets = after.filter((e) => e.kind === 'reset' && typeof e.data?.error === 'string').length;
  const waited = now - Math.max(node.stateSince, request?.at ?? 0);
  const why = failedResets >= cfg.resetFallbackAttempts
    ? `Talos refused or did not answer Reset ${failedResets} times`
    : cfg.resetFallbackSeconds > 0 && waited >= cfg.resetFallbackSeconds * 1000 ? `Talos has not taken Reset in ${Math.round(waited / 1000)} s` : undefined;
  if (why && node.spec.bmc) return { act: 'bmc', why };
  if (why) {
    return after.some((e) => e.kind === 'reimage' && e.data?.step === BY_HAND_STEP) ? { act: false, reason: 'the operator was told to power-cycle it' } : { act: 'by-hand', why };
  }
  return { act: false, reason: `waiting for Talos to take Reset (${failedResets} failed, ${Math.round(waited / 1000)} s)` };
}

/**
 * Stuck provisioning: a node past its step's timeout gets one PXE-once +
 * power-cycle per provisioning run (from the last time it entered a
 * provisioning state from outside one), only while marked for install.
 */
export function stuckRetryAllowed(store: Store, node: NodeRecord, cfg: PowerSettings): boolean {
  if (!cfg.stuckRetry || !node.markedForInstall || !node.spec.bmc) return false;
  if (!PROVISIONING_STATES.includes(node.state)) return false;
  const events = eventsOf(store, node.name);
  const start = events.filter((e) => e.kind === 'state' && PROVISIONING_STATES.includes(e.data?.to as never) && !PROVISIONING_STATES.includes(e.data?.from as never)).at(-1);
  return !events.some((e) => e.id > (start?.id ?? 0) && e.kind === STUCK_RETRY_EVENT);
}

/** When the timeout clock of a node's step starts: its state change, or the retry given since. */
export function stepClockStart(store: Store, node: NodeRecord): number {
  const retry = store.events({ node: node.name, limit: 5000 }).filter((e) => e.kind === STUCK_RETRY_EVENT).at(-1);
  return Math.max(node.stateSince, retry?.at ?? 0);
}
