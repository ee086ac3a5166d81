// Carries out the automatic BMC paths (auto-policy.ts decides): the reimage
// fallback and the stuck-provisioning retry. Each node's BMC work runs on
// its own promise with its own time limit, so the orchestrator pass and the
// sweeper that ask never wait for a BMC, and a dead BMC stalls only its node.
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { PowerSettings } from '../settings/settings.js';
import { BY_HAND_STEP, decideResetFallback, RESET_FALLBACK_ACTOR, STUCK_RETRY_ACTOR, STUCK_RETRY_EVENT, stuckRetryAllowed } from './auto-policy.js';
import { decidePowerAction, DEFAULT_POWER_GUARD, type PowerGuardPolicy } from './guards.js';
import { powerAttempts, type OperateOptions } from './operate.js';
import { GuardedPower } from './power-service.js';

export interface AutoPowerOptions {
  dataDir: string;
  /** Read on every decision, so a settings reload applies. */
  settings: () => PowerSettings;
  policy?: PowerGuardPolicy;
  now?: () => number;
  settleMs?: number;
  pollMs?: number;
  /** Whether the node's Talos API reports it is installing; no power action then. */
  installing?: (node: NodeRecord) => Promise<boolean>;
  log?: Logger;
  /** Passed to each action (operate.ts): the daemon's Serial-over-LAN capture starts there. */
  beforePower?: OperateOptions['beforePower'];
}

export class AutoPower {
  private readonly inFlight = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly store: Store, private readonly opts: AutoPowerOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private power(): GuardedPower {
    const s = this.opts.settings();
    return new GuardedPower(this.store, {
      dataDir: this.opts.dataDir, timeoutMs: s.bmcTimeoutSeconds * 1000, policy: this.opts.policy, now: this.opts.now,
      settleMs: this.opts.settleMs, pollMs: this.opts.pollMs, beforePower: this.opts.beforePower,
    });
  }

  /** The loop guards would let a power action through now (checked before starting, so a held-back node does not log every pass). */
  private guardsAllow(node: NodeRecord): boolean {
    return decidePowerAction(powerAttempts(this.store, node.name), this.now(), this.opts.policy ?? DEFAULT_POWER_GUARD).allowed;
  }

  /** Runs `work` for `name` unless work for it is already under way. */
  private launch(name: string, work: () => Promise<void>): void {
    if (this.closed || this.inFlight.has(name)) return;
    const p = work()
      .catch((err) => this.opts.log?.error({ err, node: name }, 'automatic BMC action failed'))
      .finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, p);
  }

  /** After a reset step: PXE-cycle every reimage-pending node Talos has not reset in time. Returns at once. */
  reimageFallbacks(): void {
    for (const node of this.store.nodesInStates(['reimage-pending'])) {
      if (this.inFlight.has(node.name)) continue;
      const d = decideResetFallback(this.store, node, this.now(), this.opts.settings());
      if (d.act === 'by-hand') {
        this.store.appendEvent({
          node: node.name, mac: node.mac, kind: 'reimage', data: { step: BY_HAND_STEP, why: d.why },
          message: `${d.why}; ${node.name} has no bmc in the inventory: power-cycle it by hand, its next PXE boot installs afresh`,
        });
      } else if (d.act === 'bmc' && this.guardsAllow(node)) {
        this.launch(node.name, () => this.fallback(node, d.why));
      }
    }
  }

  private async fallback(node: NodeRecord, why: string): Promise<void> {
    const installing = await this.isInstalling(node);
    // Re-read: the operator may have cancelled the reimage meanwhile.
    const now = this.store.getNode(node.name);
    if (!now || now.state !== 'reimage-pending' || !now.markedForInstall) return;
    this.store.appendEvent({
      node: node.name, mac: node.mac, kind: 'reimage', data: { step: 'bmc-fallback', why },
      message: `${why}: setting PXE-once and power-cycling ${node.name} through its BMC (${node.spec.bmc!.address})`,
    });
    const out = await this.power().pxeCycle(node.spec, RESET_FALLBACK_ACTOR, { installing });
    this.store.appendEvent({
      node: node.name, mac: node.mac, kind: 'reimage', data: { step: out.ok ? 'bmc-cycled' : 'bmc-failed', ok: out.ok, fault: out.fault },
      message: out.ok
        ? `${node.name} power-cycled through its BMC with PXE-once; it installs afresh on this boot`
        : `BMC fallback for ${node.name} did not happen: ${out.message}; rackboot tries again when the loop guards allow, or power-cycle it by hand`,
    });
  }

  /**
   * A node past its step's timeout: one PXE-once + power-cycle if allowed.
   * True when the retry was given (recorded at once; the BMC call runs on
   * its own); the step's timeout then counts again from now.
   */
  stuckRetry(node: NodeRecord, reason: string): boolean {
    if (this.closed || this.inFlight.has(node.name) || !stuckRetryAllowed(this.store, node, this.opts.settings())) return false;
    this.store.appendEvent({
      node: node.name, mac: node.mac, kind: STUCK_RETRY_EVENT, data: { state: node.state, reason },
      message: `${reason}: one retry, PXE-once and power-cycle through the BMC (${node.spec.bmc!.address}); failed if it times out again`,
    });
    this.launch(node.name, async () => {
      const installing = await this.isInstalling(node);
      const out = await this.power().pxeCycle(node.spec, STUCK_RETRY_ACTOR, { installing });
      if (!out.ok) this.opts.log?.warn({ node: node.name, why: out.message }, 'stuck-provisioning retry through the BMC did not happen');
    });
    return true;
  }

  private async isInstalling(node: NodeRecord): Promise<boolean> {
    if (!this.opts.installing) return false;
    return this.opts.installing(node).catch(() => false);
  }

  /** Resolves when every BMC call started so far has ended. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight.values());
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}
