// Runs one BMC request for one node and records it in the store's audit
// trail. Each call has its own time limit, so in a batch a BMC that stops
// answering costs its own node's slot, never the others'.
import type { NodeSpec } from '../inventory/types.js';
import type { Store } from '../store/store.js';
import { bmcFor } from './connect.js';
import type { PowerAttempt } from './guards.js';
import { BmcError, FAULT_LABEL, type BmcFault, type PowerAction, type PowerState } from './types.js';
import { inLanes } from '../in-lanes.js';

export type PowerRequest = PowerAction | 'status' | 'pxe-once';
export const POWER_REQUESTS: readonly PowerRequest[] = ['on', 'off', 'soft', 'cycle', 'status', 'pxe-once'];

/** Event kind of a power action or boot-device change in the store. */
export const POWER_EVENT = 'power';

export interface PowerOutcome {
  node: string;
  ok: boolean;
  /** Power state after the request, when it was read. */
  state?: PowerState;
  message: string;
  fault?: BmcFault;
}

export interface OperateOptions {
  dataDir: string;
  /** Who asked, for the audit trail: "cli", "api", "reimage"… */
  actor: string;
  /** Set the next boot to PXE before an on or cycle. */
  pxeFirst?: boolean;
  timeoutMs?: number;
  /** How long an on or off may take to show in the power state before the BMC is said to have ignored it. */
  settleMs?: number;
  pollMs?: number;
  /** Runs between setting PXE once and the power on/cycle (the daemon starts its Serial-over-LAN capture here); never expected to throw. */
  beforePower?: (node: NodeSpec, actor: string) => Promise<void>;
}

export async function operateNode(store: Store | undefined, node: NodeSpec, request: PowerRequest, opts: OperateOptions): Promise<PowerOutcome> {
  if (!node.bmc) {
    return { node: node.name, ok: false, fault: 'config', message: 'no bmc in the inventory for this node; power it by hand' };
  }
  const spec = node.bmc;
  const audited = request !== 'status';
  let bmc: ReturnType<typeof bmcFor> | undefined;
  let outcome: PowerOutcome;
  try {
    bmc = bmcFor(node.name, spec, { dataDir: opts.dataDir, timeoutMs: opts.timeoutMs });
    if (request === 'status') {
      outcome = { node: node.name, ok: true, state: await bmc.powerStatus(), message: '' };
    } else if (request === 'pxe-once') {
      await bmc.pxeOnce(spec.bootMode);
      outcome = { node: node.name, ok: true, message: `next boot: PXE (${spec.bootMode}), once` };
    } else {
      const pxe = opts.pxeFirst && (request === 'on' || request === 'cycle');
      if (pxe) await bmc.pxeOnce(spec.bootMode);
      if (pxe) await opts.beforePower?.(node, opts.actor).catch(() => undefined);
      await bmc.power(request);
      const expected = request === 'on' ? 'on' : request === 'off' ? 'off' : undefined;
      const state = expected ? await settle(bmc, expected, opts.settleMs ?? 30_000, opts.pollMs ?? 1000) : undefined;
      if (expected && state !== expected) {
        outcome = { node: node.name, ok: false, fault: 'bmc', state, message: `${FAULT_LABEL.bmc}: ${bmc.describe} accepted power ${request} but the machine still reports ${state} after ${Math.round((opts.settleMs ?? 30_000) / 1000)} s (a BMC that ignores commands?)` };
      } else {
        outcome = { node: node.name, ok: true, state, message: `power ${request}${pxe ? ` after setting PXE (${spec.bootMode}) once` : ''}` };
      }
    }
  } catch (err) {
    if (!(err instanceof BmcError)) throw err;
    outcome = { node: node.name, ok: false, fault: err.fault, message: `${FAULT_LABEL[err.fault]}: ${err.message}` };
  } finally {
    await bmc?.close?.().catch(() => undefined);
  }
  if (audited && store) {
    const what = request === 'pxe-once' ? 'pxe-once' : `power ${request}`;
    store.appendEvent({
      node: node.name, mac: node.mac, kind: POWER_EVENT,
      message: outcome.ok ? `${what} by ${opts.actor} through ${spec.address}: done` : `${what} by ${opts.actor} through ${spec.address} failed: ${outcome.message}`,
      data: { request, actor: opts.actor, ok: outcome.ok, ...(outcome.fault ? { fault: outcome.fault } : {}), pxeFirst: opts.pxeFirst === true },
    });
  }
  return outcome;
}

/** Polls the power state until it is `expected` or the time is up; returns the last state read. */
async function settle(bmc: { powerStatus(): Promise<PowerState> }, expected: PowerState, settleMs: number, pollMs: number): Promise<PowerState> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const state = await bmc.powerStatus();
    if (state === expected || Date.now() + pollMs > deadline) return state;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The node's recent power actions from the audit trail, for the loop guards. */
export function powerAttempts(store: Store, node: string): PowerAttempt[] {
  return store.events({ node, limit: 5000 })
    // A denial sent nothing to the BMC, and a boot-device change is not a power action.
    .filter((e) => e.kind === POWER_EVENT && (e.data as { request?: string } | null)?.request !== 'pxe-once' && !(e.data as { denied?: boolean } | null)?.denied)
    .map((e) => ({ at: e.at, ok: (e.data as { ok?: boolean } | null)?.ok === true }));
}

/** Runs requests over many nodes, at most `parallel` at a time. */
export function operateMany<T>(items: T[], parallel: number, work: (item: T) => Promise<PowerOutcome>): Promise<PowerOutcome[]> {
  return inLanes(items, parallel, work);
}
