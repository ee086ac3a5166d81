import { describe, expect, it } from 'vitest';
import { FailureBudget } from '../../../src/http/admin/failure-budget.js';

describe('FailureBudget', () => {
  it('allows a burst, then refills at its rate, and says how long to wait', () => {
    let now = 0;
    const b = new FailureBudget(3, 2, () => now);
    expect([b.spend(), b.spend(), b.spend(), b.spend()]).toEqual([true, true, true, false]);
    expect(b.available()).toBe(false);
    expect(b.retryAfterSeconds()).toBe(1);
    now += 500; // one failure's worth at 2 a second
    expect(b.spend()).toBe(true);
    expect(b.spend()).toBe(false);
    now += 60_000; // never more than the burst, however long it rested
    expect([b.spend(), b.spend(), b.spend(), b.spend()]).toEqual([true, true, true, false]);
  });
});
