// Random and mutated packets: the codec never throws, and the running
// server keeps serving correctly after swallowing them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TftpParseError, decodePacket, encodeAck, encodeData, encodeError, encodeOack, encodeRequest } from '../../src/tftp/codec.js';
import { negotiate } from '../../src/tftp/options.js';
import { checkName } from '../../src/tftp/files.js';
import { Transfer } from '../../src/tftp/transfer.js';
import { startTftpService, type TftpService } from '../../src/tftp/server.js';
import { RawClient } from './raw-client.js';

let seed = 0x2545f491;
function rnd(n: number): number {
  // xorshift32: reproducible, so a failure can be replayed.
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}

const seeds: Buffer[] = [
  encodeRequest('RRQ', 'ipxe.efi', 'octet', [['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']]),
  encodeRequest('RRQ', 'boot.ipxe', 'netascii', [['timeout', '6']]),
  encodeRequest('WRQ', 'x', 'octet'),
  encodeRequest('RRQ', '../../etc/passwd', 'octet'),
  encodeData(1, Buffer.from('data')),
  encodeAck(0),
  encodeError(8, 'User aborted the transfer'),
  encodeOack([['blksize', '512']]),
];

function packet(): Buffer {
  if (rnd(3) === 0) {
    const b = Buffer.alloc(rnd(600));
    for (let i = 0; i < b.length; i++) b[i] = rnd(256);
    if (b.length >= 2 && rnd(2) === 0) (b[0] = 0, b[1] = rnd(8));
    return b;
  }
  const b = Buffer.from(seeds[rnd(seeds.length)]!);
  const edits = 1 + rnd(4);
  let out = b;
  for (let e = 0; e < edits; e++) {
    const kind = rnd(4);
    if (kind === 0 && out.length > 0) out[rnd(out.length)] = rnd(256);
    else if (kind === 1 && out.length > 0) out = out.subarray(0, rnd(out.length));
    else if (kind === 2) out = Buffer.concat([out, Buffer.from([rnd(256), 0, rnd(256)])]);
    else if (out.length > 2) out[2 + rnd(out.length - 2)] = 0;
  }
  return out;
}

describe('TFTP fuzz', () => {
  it('decodes 200k random and mutated packets without throwing, and feeds them to negotiation and transfers', () => {
    const t = new Transfer({ data: Buffer.alloc(100_000, 1), blksize: 512, windowsize: 8, timeoutMs: 1000, fixedTimeout: false, maxRetries: 1e9 });
    t.start();
    let ok = 0;
    const violations: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const r = decodePacket(packet());
      if (!r.ok) {
        if (!(r.error instanceof TftpParseError)) violations.push(`untyped error ${String(r.error)}`);
        continue;
      }
      ok++;
      const p = r.packet;
      if (p.op === 'RRQ' || p.op === 'WRQ') {
        const n = negotiate(p.options, 12345, { maxBlksize: 1468, maxWindowsize: 16 });
        if (n.blksize < 8 || n.blksize > 1468 || n.windowsize < 1 || n.windowsize > 16) violations.push(`negotiated ${JSON.stringify(n)}`);
        const named = checkName(p.filename);
        if (named.ok && named.segments.some((s) => s === '..' || s.includes('\\'))) violations.push(`accepted ${JSON.stringify(p.filename)}`);
      } else if (p.op === 'ACK') t.onAck(p.block);
      else if (p.op === 'ERROR' && rnd(1000) === 0) t.onError(p.code, p.message);
      if (rnd(50) === 0) t.onTimeout();
    }
    expect(violations).toEqual([]);
    expect(ok).toBeGreaterThan(10_000);
  });

  describe('against the running server', () => {
    let dir: string;
    let svc: TftpService;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'rbt-fuzz-'));
      writeFileSync(join(dir, 'ipxe.efi'), Buffer.alloc(3000, 0x42));
      svc = await startTftpService({
        settings: { tftp: { enabled: true, root: dir, port: 0, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 32 } },
        host: '127.0.0.1', log: pino({ level: 'silent' }), retransmitMs: 50, maxRetries: 1,
      });
    });
    afterAll(async () => {
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('survives 100k packets on its listening and transfer ports, then serves correctly', async () => {
      const fuzzer = await RawClient.open();
      try {
        for (let i = 0; i < 100_000; i++) {
          // Aim some at transfer ports the server opened for earlier mutated RRQs.
          const tids = fuzzer.received;
          const to = tids.length > 0 && rnd(4) === 0 ? tids[rnd(tids.length)]!.from : svc.port;
          fuzzer.send(packet(), to);
          if (i % 200 === 0) await new Promise((r) => setImmediate(r));
          if (fuzzer.received.length > 5000) fuzzer.received.splice(0, 4000);
        }
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        fuzzer.close();
      }
      const m = svc.metrics();
      expect(m.totals.malformed).toBeGreaterThan(1000);
      const c = await RawClient.open();
      try {
        c.send(encodeRequest('RRQ', 'ipxe.efi', 'octet', [['blksize', '1468']]), svc.port);
        const [oack] = await c.waitFor(1);
        expect(oack!.packet).toEqual({ op: 'OACK', options: [['blksize', '1468']] });
        c.send(encodeAck(0), oack!.from);
        await c.waitFor(2);
        c.send(encodeAck(1), oack!.from);
        await c.waitFor(3);
        c.send(encodeAck(2), oack!.from);
        await c.waitFor(4);
        const data = Buffer.concat(c.received.slice(1, 4).map((r) => Buffer.from((r.packet as { data: Uint8Array }).data)));
        expect(data.equals(Buffer.alloc(3000, 0x42))).toBe(true);
      } finally {
        c.close();
      }
    }, 120_000);
  });
});
