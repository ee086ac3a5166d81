import { describe, expect, it } from 'vitest';
import { inLanes } from '../src/in-lanes.js';

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
