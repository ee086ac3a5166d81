import { describe, expect, it } from 'vitest';
import { parseMachineQuery } from '../../src/http/boot/machine-ipxe.js';
import { FUZZ_SEED, mutateText, prng } from '../helpers/fuzz.js';

const CASES = 100_000;
const seeds = [
  { mac: '52:54:00:12:34:01', arch: 'x86_64', uuid: '11223344-5566-7788-99aa-bbccddeeff01' },
  { mac: '52-54-00-12-34-01', arch: 'i386' },
  { mac: '5254.0012.3401', arch: 'arm64', uuid: '00000000-0000-0000-0000-000000000000' },
];

describe('iPXE query parser fuzz', () => {
  it(`${CASES} mutated queries: never throws; accepted values are only known shapes`, () => {
    const rand = prng(FUZZ_SEED);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const base = seeds[i % seeds.length]!;
      const q: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(base)) {
        const r = rand();
        if (r < 0.05) continue;
        q[k] = r < 0.1 ? [v, v] : r < 0.15 ? { v } : r < 0.6 ? mutateText(v, rand, '0123456789abcdef:-.%/\\ $`{}\n') : v;
      }
      const out = parseMachineQuery(q);
      if ('error' in out) {
        expect(out.error.length).toBeGreaterThan(0);
        continue;
      }
      accepted++;
      expect(out.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(['amd64', 'arm64']).toContain(out.arch);
      expect(['x86_64', 'i386', 'amd64', 'arm64', 'aarch64']).toContain(out.buildarch);
      if (out.uuid !== undefined) expect(out.uuid).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
