import { describe, expect, it } from 'vitest';
import { decidePowerAction, PowerGuard, type PowerGuardPolicy } from '../../src/bmc/guards.js';

const policy: PowerGuardPolicy = { minIntervalMs: 60_000, maxPerHour: 3, backoffBaseMs: 30_000, backoffMaxMs: 240_000 };
const MIN = 60_000;

describe('power loop guards', () => {
  it('allows a first action and keeps the minimum interval between actions', () => {
    expect(decidePowerAction([], 0, policy)).toEqual({ allowed: true });
    const d = decidePowerAction([{ at: 0, ok: true }], 59_000, policy);
    expect(d).toMatchObject({ allowed: false, retryAt: 60_000 });
    expect(decidePowerAction([{ at: 0, ok: true }], 60_000, policy)).toEqual({ allowed: true });
  });

  it('caps actions per hour and says when the oldest leaves the window', () => {
    const h = [0, 10, 20].map((m) => ({ at: m * MIN, ok: true }));
    const d = decidePowerAction(h, 30 * MIN, policy);
    expect(d).toMatchObject({ allowed: false, retryAt: 60 * MIN });
    if (!d.allowed) expect(d.reason).toMatch(/3 power actions in the last hour \(cap 3\)/);
    expect(decidePowerAction(h, 60 * MIN, policy)).toEqual({ allowed: true });
  });

  it('backs off exponentially after BMC errors, up to the maximum, and a success resets it', () => {
    const fails = (n: number) => Array.from({ length: n }, (_, i) => ({ at: i * 1000 * MIN, ok: false }));
    const lastAt = (n: number) => (n - 1) * 1000 * MIN;
    // 1 failure: 30 s (hidden by the 60 s interval); 3 failures: 120 s; 5 failures: capped at 240 s.
    expect(decidePowerAction(fails(1), lastAt(1) + 61_000, policy)).toEqual({ allowed: true });
    expect(decidePowerAction(fails(3), lastAt(3) + 119_000, policy)).toMatchObject({ allowed: false, retryAt: lastAt(3) + 120_000 });
    expect(decidePowerAction(fails(3), lastAt(3) + 120_000, policy)).toEqual({ allowed: true });
    expect(decidePowerAction(fails(5), lastAt(5) + 239_000, policy)).toMatchObject({ allowed: false, retryAt: lastAt(5) + 240_000 });
    expect(decidePowerAction([...fails(5), { at: lastAt(5) + 300_000, ok: true }], lastAt(5) + 361_000, policy)).toEqual({ allowed: true });
  });

  it('takes no action while the node is installing', () => {
    expect(decidePowerAction([], 0, policy, { installing: true })).toMatchObject({ allowed: false, reason: expect.stringMatching(/installing/) });
  });

  it('PowerGuard keeps per-node history on an injected clock', () => {
    let now = 1_000_000;
    const g = new PowerGuard(policy, () => now);
    expect(g.check('a').allowed).toBe(true);
    g.record('a', false);
    expect(g.check('a').allowed).toBe(false);
    expect(g.check('b').allowed).toBe(true); // one node's BMC trouble never holds back another
    now += 61_000;
    expect(g.check('a').allowed).toBe(true);
    g.record('a', false);
    now += 61_000; // second failure: 60 s backoff (equal to the interval) has passed
    expect(g.check('a').allowed).toBe(true);
    g.record('a', false);
    now += 61_000; // third: 120 s backoff
    expect(g.check('a')).toMatchObject({ allowed: false, reason: expect.stringMatching(/3 failed BMC attempts in a row/) });
  });
});
