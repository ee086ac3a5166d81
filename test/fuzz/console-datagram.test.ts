// Fuzz of the parser for Talos kernel-log datagrams (UDP from the
// provisioning network, so anyone's bytes): never throws, and what it
// accepts is only plain JSON objects of bounded size.
import { describe, expect, it } from 'vitest';
import { parseConsoleDatagram } from '../../src/console/receiver.js';
import { FUZZ_SEED, mutateText, prng } from '../helpers/fuzz.js';

const CASES = 100_000;
const SEEDS = [
  '{"facility":"kern","msg":"[talos] task install (1/1): done","priority":"info","seq":42,"clock":1234567}',
  '{"msg":"a"}\n{"msg":"b","talos-level":"warn"}\n',
  '{"msg":"nested","fields":{"a":[1,2,{"b":null}]},"n":-1.5e3}',
];

describe('console datagram parser fuzz', () => {
  it(`${CASES} mutated datagrams: objects or undefined, never a throw`, () => {
    const rand = prng(FUZZ_SEED);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const r = rand();
      let buf: Buffer;
      if (r < 0.05) buf = Buffer.from(Array.from({ length: Math.floor(rand() * 600) }, () => Math.floor(rand() * 256)));
      else if (r < 0.07) buf = Buffer.from('['.repeat(5000 + Math.floor(rand() * 5000)));
      else if (r < 0.09) buf = Buffer.from(`{"msg":"${'x'.repeat(8000 + Math.floor(rand() * 400))}"}`);
      else buf = Buffer.from(mutateText(SEEDS[i % SEEDS.length]!, rand, '{}[]",:\\\n \u0000\ud800nul0e-'));
      const out = parseConsoleDatagram(buf);
      if (out === undefined) continue;
      accepted++;
      expect(out.length).toBeGreaterThan(0);
      for (const o of out) {
        expect(typeof o === 'object' && o !== null && !Array.isArray(o)).toBe(true);
        expect(JSON.stringify(o).length).toBeLessThanOrEqual(8192 * 6);
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  }, 60_000);

  it('empty, oversized and non-object datagrams are rejected', () => {
    for (const bad of ['', '[]', '1', 'null', '"x"', '{"a":1}\n[2]', `{"m":"${'y'.repeat(9000)}"}`]) expect(parseConsoleDatagram(Buffer.from(bad)), bad.slice(0, 20)).toBeUndefined();
    expect(parseConsoleDatagram(Buffer.alloc(65_508, 0x20))).toBeUndefined();
  });
});
