import { expect, it } from 'vitest';
import { LogTally } from '../src/log-tally.js';

it('says the first failure at once, then at most once per interval with everything since', () => {
  let now = 1_000;
  const tally = new LogTally(() => ({ lost: 0, batches: 0 }), 10_000, () => now);
  expect(tally.add({ lost: 3, batches: 1 })).toEqual({ lost: 3, batches: 1 });
  now += 4_000;
  expect(tally.add({ lost: 2, batches: 1 })).toBeUndefined();
  now += 5_999;
  expect(tally.add({ lost: 1, batches: 1 })).toBeUndefined();
  now += 1;
  // The interval is up: the two held back and this one.
  expect(tally.add({ lost: 4, batches: 1 })).toEqual({ lost: 7, batches: 3 });
  now += 1;
  expect(tally.add({ lost: 1, batches: 1 })).toBeUndefined();
});
