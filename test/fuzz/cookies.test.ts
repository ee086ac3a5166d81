// Fuzz of the Cookie header parser the admin guard uses: never throws,
// never lets a cookie name reach Object.prototype.
import { describe, expect, it } from 'vitest';
import { parseCookies } from '../../src/http/admin/auth.js';
import { FUZZ_SEED, mutateText, prng } from '../helpers/fuzz.js';

const CASES = 100_000;
const SEEDS = ['rackboot_session=abc123; theme=dark', '__proto__=x; constructor=y', 'a=%E0%A4%A; b=%zz; =novalue; ;;', 'k="quoted value"; k=dup'];

describe('cookie parser fuzz', () => {
  it(`${CASES} mutated headers: a plain record of strings, prototype untouched`, () => {
    const rand = prng(FUZZ_SEED);
    for (let i = 0; i < CASES; i++) {
      const out = parseCookies(mutateText(SEEDS[i % SEEDS.length]!, rand, '=;% _"\\abcdef0123456789'));
      for (const [k, v] of Object.entries(out)) {
        expect(typeof v, k).toBe('string');
        expect(k).not.toContain(';');
        expect(k).toBe(k.trim());
      }
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    }
  });

  it('a __proto__ cookie does not replace the record\'s prototype', () => {
    const out = parseCookies('__proto__=evil; a=1');
    expect(out.a).toBe('1');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
