// Fuzz of the Range header parser for /assets (RFC 9110 §14.1.2): never
// throws, and any range it grants lies inside the file.
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../src/http/boot/assets.js';
import { FUZZ_SEED, mutateText, prng } from '../helpers/fuzz.js';

const CASES = 100_000;
const SEEDS = ['bytes=0-499', 'bytes=500-', 'bytes=-500', 'bytes=0-0', 'bytes=100-99', 'bytes=0-1,5-9', 'bytes=99999999999999999999-'];

describe('Range parser fuzz', () => {
  it(`${CASES} mutated headers against random sizes: a range inside the file, 'unsatisfiable' or undefined`, () => {
    const rand = prng(FUZZ_SEED);
    let granted = 0;
    for (let i = 0; i < CASES; i++) {
      const size = [0, 1, 512, 65_536, 2 ** 40][Math.floor(rand() * 5)]!;
      const header = rand() < 0.1 ? undefined : mutateText(SEEDS[i % SEEDS.length]!, rand, '0123456789-=,bytes \t+.eE');
      const out = parseRange(header, size);
      if (out === undefined || out === 'unsatisfiable') continue;
      granted++;
      expect(Number.isSafeInteger(out.start) && Number.isSafeInteger(out.end), header).toBe(true);
      expect(out.start).toBeGreaterThanOrEqual(0);
      expect(out.end).toBeGreaterThanOrEqual(out.start);
      expect(out.end).toBeLessThan(size);
    }
    expect(granted).toBeGreaterThan(1000);
  });
});
