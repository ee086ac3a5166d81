// What automatic callers (reimage fallback, the stuck-provisioning retry,
// powering a rack on) will use: every action passes the loop guards, fed by
// the node's power events in the store, and a denial is recorded too.
// Not wired into the daemon yet; `rackboot power` (an operator's explicit
// command) calls operateNode directly and is not gated.
import type { NodeSpec } from '../inventory/types.js';
import type { Store } from '../store/store.js';
import { decidePowerAction, DEFAULT_POWER_GUARD, type GuardDecision, type PowerGuardPolicy } from './guards.js';
import { operateNode, powerAttempts, POWER_EVENT, type OperateOptions, type PowerOutcome } from './operate.js';
import type { PowerAction } from './types.js';

export interface GuardedOutcome extends PowerOutcome {
  /** Set when the guards refused; nothing was sent to the BMC. */
  denied?: Extract<GuardDecision, { allowed: false }>;
}

export class GuardedPower {
  constructor(
    private readonly store: Store,
    private readonly opts: Omit<OperateOptions, 'actor' | 'pxeFirst'> & { policy?: PowerGuardPolicy; now?: () => number },
  ) {}

  /** One power action, if the guards allow it now. `installing`: the node's Talos API says it is installing. */
  async act(node: NodeSpec, action: PowerAction, actor: string, ctx: { pxeFirst?: boolean; installing?: boolean } = {}): Promise<GuardedOutcome> {
    const now = (this.opts.now ?? Date.now)();
    const decision = decidePowerAction(powerAttempts(this.store, node.name), now, this.opts.policy ?? DEFAULT_POWER_GUARD, { installing: ctx.installing });
    if (!decision.allowed) {
      this.store.appendEvent({
        node: node.name, mac: node.mac, kind: POWER_EVENT,
        message: `power ${action} by ${actor} held back: ${decision.reason}; next chance ${new Date(decision.retryAt).toISOString()}`,
        data: { request: action, actor, ok: false, denied: true, retryAt: decision.retryAt },
      });
      return { node: node.name, ok: false, message: `held back by the loop guards: ${decision.reason}`, denied: decision };
    }
    return operateNode(this.store, node, action, { ...this.opts, actor, pxeFirst: ctx.pxeFirst });
  }

  /** Reinstall through the BMC: next boot PXE (once), then power-cycle. */
  pxeCycle(node: NodeSpec, actor: string, ctx: { installing?: boolean } = {}): Promise<GuardedOutcome> {
    return this.act(node, 'cycle', actor, { pxeFirst: true, installing: ctx.installing });
  }
}

/**
 * Powers nodes on in waves of `waveSize`, waiting `intervalMs` between waves,
 * so a rack does not draw its inrush current all at once. A node that fails
 * does not stop the waves; its outcome says why.
 */
export async function powerOnInWaves(
  nodes: NodeSpec[], waves: { waveSize: number; intervalMs: number },
  powerOn: (node: NodeSpec) => Promise<PowerOutcome>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<PowerOutcome[]> {
  if (!(waves.waveSize >= 1)) throw new Error('waveSize must be at least 1');
  const outcomes: PowerOutcome[] = [];
  for (let i = 0; i < nodes.length; i += waves.waveSize) {
    if (i > 0) await sleep(waves.intervalMs);
    outcomes.push(...(await Promise.all(nodes.slice(i, i + waves.waveSize).map(powerOn))));
  }
  return outcomes;
}
