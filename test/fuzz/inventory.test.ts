import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseInventory } from '../../src/inventory/load.js';
import { FUZZ_SEED, mutateText, prng } from '../helpers/fuzz.js';

const example = readFileSync(new URL('../../inventory/cluster.yaml', import.meta.url), 'utf8');
// Most cases mutate a small inventory (cheap to parse); every fourth the full example.
const small = `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.11.5
  patches:
    all:
      - machine: {time: {servers: [10.0.0.1]}}
nodes:
  - name: a
    mac: 52:54:00:00:00:01
    role: controlplane
    ip: 10.0.0.11
  - &w {name: b, mac: 52-54-00-00-00-02, role: worker}
`;
const CASES = 100_000;

describe('inventory loader fuzz', () => {
  it(`${CASES} mutated inventories: never throws, every rejection has a position`, () => {
    const rand = prng(FUZZ_SEED);
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < CASES; i++) {
      const text = mutateText(i % 4 === 0 ? example : small, rand, ':-[]{}#&*!|>\'"%@`, \n\t0123456789abcdef.');
      let r;
      try {
        r = parseInventory(text, 'fuzz.yaml');
      } catch (err) {
        throw new Error(`case ${i} (seed ${FUZZ_SEED}) threw: ${(err as Error).stack}\n--- input ---\n${text}`);
      }
      if (r.ok) {
        accepted++;
        for (const n of r.inventory.nodes) expect(n.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      } else {
        rejected++;
        for (const e of r.errors) {
          expect(e.line).toBeGreaterThanOrEqual(0);
          expect(e.message.length).toBeGreaterThan(0);
        }
      }
    }
    // Both outcomes must occur, or the mutator is not exercising the loader.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
    console.log(`inventory fuzz: ${accepted} accepted, ${rejected} rejected`);
  }, 900_000);
});
