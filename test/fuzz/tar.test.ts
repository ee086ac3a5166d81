// Fuzz of the ustar/pax reader that unpacks the Kubeconfig stream a Talos
// node sends: whatever the bytes, readTar returns entries or throws an
// ArchiveError, in bounded time, and never hands out data past the input.
import { describe, expect, it } from 'vitest';
import { readTar } from '../../src/talos/tar.js';
import { ArchiveError } from '../../src/talos/errors.js';
import { FUZZ_SEED, prng } from '../helpers/fuzz.js';

const CASES = 100_000;

function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(type, 156);
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const entry = (name: string, data: Buffer, type = '0') => Buffer.concat([header(name, data.length, type), pad(data)]);
const paxRecord = (k: string, v: string) => {
  const body = ` ${k}=${v}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
};

const SEEDS = [
  entry('kubeconfig', Buffer.from('apiVersion: v1\nkind: Config\n')),
  Buffer.concat([entry('PaxHeaders/kubeconfig', Buffer.from(paxRecord('path', 'kubeconfig') + paxRecord('mtime', '1')), 'x'), entry('ignored', Buffer.from('kind: Config\n'))]),
  Buffer.concat([entry('./a', Buffer.alloc(700, 0x61)), entry('./b', Buffer.alloc(3)), Buffer.alloc(1024)]),
];

function mutate(src: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(src);
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = Math.floor(rand() * b.length);
    // Buffer.write past the end throws; such an edit is simply skipped.
    try { switch (Math.floor(rand() * 6)) {
      case 0: b[at] = Math.floor(rand() * 256); break;
      case 1: b = b.subarray(0, at); break; // truncation anywhere
      case 2: b.write(String(Math.floor(rand() * 99999)), Math.min(at, b.length - 1), 'latin1'); break; // digits, e.g. in a size or pax length
      case 3: if (b.length > 124) b.write(['0', '7777777777', '\x80\xff\xff\xff', '99', ' ', '-1'][Math.floor(rand() * 6)]!, 124 + Math.floor(rand() * 12), 'latin1'); break;
      case 4: b = Buffer.concat([b, b.subarray(Math.floor(rand() * b.length))]); break;
      default: if (b.length > 560) b.write(['0 path=x\n', '1 ', '5 a=b\n', '3 path', '99999999999 x=y\n'][Math.floor(rand() * 5)]!, 512 + Math.floor(rand() * 40), 'latin1');
    } } catch { /* edit out of range */ }
  }
  return b;
}

describe('tar reader fuzz', () => {
  it(`${CASES} mutated archives: entries or an ArchiveError, nothing else, nothing past the input`, () => {
    const rand = prng(FUZZ_SEED);
    let parsed = 0;
    let rejected = 0;
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      const input = mutate(SEEDS[i % SEEDS.length]!, rand);
      try {
        const entries = readTar(input);
        parsed++;
        let total = 0;
        for (const e of entries) total += e.data.length;
        expect(total).toBeLessThanOrEqual(input.length);
      } catch (err) {
        if (!(err instanceof ArchiveError)) throw new Error(`case ${i}: ${(err as Error).stack}\ninput ${input.toString('hex').slice(0, 400)}`);
        rejected++;
      }
    }
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);

  it('a pax record claiming length 0 is an ArchiveError instead of an endless loop', () => {
    const archive = Buffer.concat([entry('PaxHeaders/x', Buffer.from('0 mtime=1\n'), 'x'), entry('kubeconfig', Buffer.from('x'))]);
    expect(() => readTar(archive)).toThrow(ArchiveError);
  });
});
