// Loop guards for power actions: whatever asks (an operator, reimage, the
// stuck-provisioning retry), a node's BMC is not hammered. Pure: the caller
// passes the node's recent attempts (from the store's audit events, or the
// in-memory PowerGuard below) and the time.

export interface PowerGuardPolicy {
  /** No two power actions on one node closer than this. */
  minIntervalMs: number;
  /** At most this many power actions on one node in any hour. */
  maxPerHour: number;
  /** After n failed attempts in a row, wait base * 2^(n-1), at most max. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_POWER_GUARD: PowerGuardPolicy = {
  minIntervalMs: 60_000,
  maxPerHour: 6,
  backoffBaseMs: 30_000,
  backoffMaxMs: 30 * 60_000,
};

export interface PowerAttempt {
  at: number;
  ok: boolean;
}

export type GuardDecision = { allowed: true } | { allowed: false; reason: string; retryAt: number };

const HOUR = 3_600_000;

export function decidePowerAction(
  history: readonly PowerAttempt[], now: number, policy: PowerGuardPolicy = DEFAULT_POWER_GUARD,
  context: { installing?: boolean } = {},
): GuardDecision {
  if (context.installing) return { allowed: false, reason: 'the node\'s Talos API reports it is installing', retryAt: now + policy.minIntervalMs };
  const past = history.filter((a) => a.at <= now).sort((a, b) => a.at - b.at);
  const denials: { reason: string; retryAt: number }[] = [];
  const last = past[past.length - 1];
  if (last && now - last.at < policy.minIntervalMs) {
    denials.push({ reason: `last power action ${Math.round((now - last.at) / 1000)} s ago (minimum interval ${policy.minIntervalMs / 1000} s)`, retryAt: last.at + policy.minIntervalMs });
  }
  const inHour = past.filter((a) => now - a.at < HOUR);
  if (inHour.length >= policy.maxPerHour) {
    const freesAt = inHour[inHour.length - policy.maxPerHour]!.at + HOUR;
    denials.push({ reason: `${inHour.length} power actions in the last hour (cap ${policy.maxPerHour})`, retryAt: freesAt });
  }
  let failures = 0;
  for (let i = past.length - 1; i >= 0 && !past[i]!.ok; i--) failures++;
  if (failures > 0) {
    const wait = Math.min(policy.backoffBaseMs * 2 ** (failures - 1), policy.backoffMaxMs);
    if (now - last!.at < wait) {
      denials.push({ reason: `${failures} failed BMC attempt${failures > 1 ? 's' : ''} in a row (backing off ${Math.round(wait / 1000)} s)`, retryAt: last!.at + wait });
    }
  }
  if (denials.length === 0) return { allowed: true };
  // The binding constraint is the one that frees last.
  const worst = denials.reduce((a, b) => (b.retryAt > a.retryAt ? b : a));
  return { allowed: false, reason: denials.map((d) => d.reason).join('; '), retryAt: worst.retryAt };
}

/** Per-node attempt history in memory, for a long-running caller with its own clock. */
export class PowerGuard {
  private readonly attempts = new Map<string, PowerAttempt[]>();
  constructor(private readonly policy: PowerGuardPolicy = DEFAULT_POWER_GUARD, private readonly now: () => number = Date.now) {}

  check(node: string, context: { installing?: boolean } = {}): GuardDecision {
    return decidePowerAction(this.attempts.get(node) ?? [], this.now(), this.policy, context);
  }

  record(node: string, ok: boolean): void {
    const now = this.now();
    // Keep what the longest rule (an hour, or the backoff streak) can still look at.
    const kept = (this.attempts.get(node) ?? []).filter((a) => now - a.at < Math.max(HOUR, this.policy.backoffMaxMs) || !a.ok);
    kept.push({ at: now, ok });
    this.attempts.set(node, kept.slice(-64));
  }
}
