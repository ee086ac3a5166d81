import { describe, expect, it } from 'vitest';
import { inLanes, Lanes } from '../src/in-lanes.js';

describe('inLanes', () => {
  it('keeps at most `lanes` items under way, starts the next as one ends, and returns results in item order', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    // Later items finish first, so the order of results is not the order of completion.
    const out = await inLanes([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      started.push(n);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 40 - n * 5));
      running--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
    expect(started.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('does nothing for no items, and one lane runs them one by one', async () => {
    expect(await inLanes([], 4, async () => 1)).toEqual([]);
    const order: string[] = [];
    await inLanes(['a', 'b'], 1, async (x) => {
      order.push(`${x}+`);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`${x}-`);
    });
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-']);
  });
});

describe('Lanes', () => {
  it('lets at most `size` callers run at once, and the waiting ones in the order they came, also after a failure', async () => {
    const lanes = new Lanes(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (n: number, fail = false) => lanes.run(async () => {
      order.push(n);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      if (fail) throw new Error(`work ${n} failed`);
      return n;
    });
    const results = await Promise.allSettled([work(1), work(2, true), work(3), work(4), work(5)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'work 2 failed', 3, 4, 5]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    // Every lane was given back: two more run together.
    const t = [work(6), work(7)];
    await new Promise((r) => setTimeout(r, 1));
    expect(running).toBe(2);
    await Promise.all(t);
  });
});

describe('lanes below one', () => {
  it('still runs the work, one at a time (no caller waits for ever)', async () => {
    let running = 0;
    let most = 0;
    const out = await inLanes([1, 2, 3], 0, async (n) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return n;
    });
    expect(out).toEqual([1, 2, 3]);
    expect(most).toBe(1);
  });
});
