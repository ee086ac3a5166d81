// The native ACK path (src/tftp/ack-fast-path.ts, native/bindtodevice/
// tftp-acks.c) against a scripted client over loopback: the windows it sends
// on its own, and that the transfer machine still decides everything else
// from the state the fast path left (a timeout resends the window now out,
// a duplicate ACK sends nothing, an ERROR ends it). Real clients over it:
// real-clients.test.ts and netem.test.ts (the default path).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { encodeAck, encodeError, encodeRequest } from '../../src/tftp/codec.js';
import type { TftpService } from '../../src/tftp/server.js';
import { loadTftpAcks } from '../../src/tftp/ack-fast-path.js';
import type { RawClient, Received } from './raw-client.js';
import { useLoopbackRig } from './loopback-rig.js';

let dir: string;
// 40 blocks of 512 and a short last one.
const body = Buffer.from(Array.from({ length: 512 * 40 + 100 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
const log = pino({ level: 'silent' });
const rig = useLoopbackRig();
const client = rig.client;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rbt-acks-'));
  mkdirSync(join(dir, 'root'));
  writeFileSync(join(dir, 'root', 'f.bin'), body);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function serve(nativeAcks = true): Promise<TftpService> {
  return rig.serve({ root: join(dir, 'root'), log, retransmitMs: 300, minRetransmitMs: 300, maxRetries: 2, nativeAcks, ackThread: process.env.RB_ACK_THREAD === '1' });
}

const dataBlocks = (rs: Received[]) => rs.filter((r) => r.packet?.op === 'DATA').map((r) => (r.packet as { block: number }).block);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Acknowledges each DATA as it comes (windowsize 1, no options) until `upTo`; returns the transfer's port. */
async function ackUpTo(c: RawClient, svc: TftpService, upTo: number): Promise<number> {
  c.send(encodeRequest('RRQ', 'f.bin', 'octet', []), svc.port);
  const [d1] = await c.waitFor(1);
  for (let b = 1; b <= upTo; b++) {
    await c.waitFor(b);
    c.send(encodeAck(b), d1!.from);
  }
  await c.waitFor(upTo + 1);
  return d1!.from;
}

describe('TFTP native ACK path', () => {
  it('is in this build, and the service takes it by default', () => {
    expect(loadTftpAcks()).toBeDefined();
  });

  it('serves a windowed transfer byte for byte, sending the windows itself and counting every byte', async () => {
    const svc = await serve();
    const c = await client();
    c.send(encodeRequest('RRQ', 'f.bin', 'octet', [['windowsize', '4']]), svc.port);
    const [oack] = await c.waitFor(1);
    expect(oack!.packet?.op).toBe('OACK');
    c.send(encodeAck(0), oack!.from);
    const got = new Map<number, Buffer>();
    for (let seen = 1; got.size < 41; ) {
      await c.waitFor(seen + 1);
      for (const r of c.received.slice(seen)) if (r.packet?.op === 'DATA') got.set(r.packet.block, Buffer.from(r.packet.data));
      seen = c.received.length;
      // The ACK of each window's last block (or of the file's last).
      const last = Math.max(...got.keys());
      if (last % 4 === 0 || last === 41) c.send(encodeAck(last), oack!.from);
    }
    const whole = Buffer.concat([...got.entries()].sort((x, y) => x[0] - y[0]).map(([, d]) => d));
    expect(sha(whole)).toBe(sha(body));
    await c.quiet(100);
    const m = svc.metrics();
    expect(m.totals).toMatchObject({ completed: 1, retransmissions: 0, bytesSent: body.length });
    // Windows 2..11 answered ACKs 4, 8, ..., 40 that JavaScript never saw;
    // the ACK 0 of the OACK and the final ACK 41 went to the transfer machine.
    expect(m.totals.nativeAckWindows).toBe(10);
    expect(dataBlocks(c.received)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
  });

  it('on a lost ACK resends the window the fast path sent last, not the one the timer was armed for', async () => {
    const svc = await serve();
    const c = await client();
    await ackUpTo(c, svc, 6);
    // Every ACK so far was the fast path's (no OACK: DATA 1 came from the
    // transfer machine, 2..7 did not). DATA 7 is out; its ACK never comes.
    // The only retransmission is of 7.
    await c.waitFor(8, 3000);
    expect(dataBlocks(c.received)).toEqual([1, 2, 3, 4, 5, 6, 7, 7]);
    expect(await c.quiet(150)).toBe(0);
    expect(svc.metrics().totals.nativeAckWindows).toBe(6);
  });

  it('answers a duplicate ACK with nothing (RFC 1350 Sorcerer\'s Apprentice), then carries on', async () => {
    const svc = await serve();
    const c = await client();
    const tid = await ackUpTo(c, svc, 3);
    c.send(encodeAck(3), tid);
    c.send(encodeAck(2), tid);
    expect(await c.quiet(150)).toBe(0);
    c.send(encodeAck(4), tid);
    await c.waitFor(5);
    expect(await c.quiet(100)).toBe(0);
    expect(dataBlocks(c.received)).toEqual([1, 2, 3, 4, 5]);
    expect(svc.metrics().totals.retransmissions).toBe(0);
  });

  it('ends on the client\'s ERROR mid-transfer, with what the fast path sent counted', async () => {
    const svc = await serve();
    const c = await client();
    const tid = await ackUpTo(c, svc, 10);
    c.send(encodeError(0, 'disk full'), tid);
    expect(await c.quiet(700)).toBe(0);
    const m = svc.metrics();
    expect(m.activeTransfers).toBe(0);
    expect(m.totals).toMatchObject({ nativeAckWindows: 10, aborted: 1, completed: 0, bytesSent: 11 * 512 });
  });

  it('counts a malformed datagram on the transfer port and keeps going', async () => {
    const svc = await serve();
    const c = await client();
    const tid = await ackUpTo(c, svc, 2);
    c.send(Buffer.from([0, 4, 0]), tid);
    c.send(Buffer.from([0, 4, 0, 3, 9]), tid);
    expect(await c.quiet(100)).toBe(0);
    c.send(encodeAck(3), tid);
    await c.waitFor(4);
    expect(svc.metrics().totals.malformed).toBe(2);
    expect(dataBlocks(c.received)).toEqual([1, 2, 3, 4]);
  });

  it('is off with nativeAcks false: every ACK goes through JavaScript, same bytes', async () => {
    const svc = await serve(false);
    const c = await client();
    await ackUpTo(c, svc, 5);
    expect(dataBlocks(c.received)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(svc.metrics().totals.nativeAckWindows).toBe(0);
  });
});
