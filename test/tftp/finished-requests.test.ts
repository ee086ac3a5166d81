import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { encodeAck } from '../../src/tftp/codec.js';
import { FinishedRequests } from '../../src/tftp/finished-requests.js';
import type { TftpService } from '../../src/tftp/server.js';
import type { RawClient } from './raw-client.js';
import { useLoopbackRig } from './loopback-rig.js';

describe('FinishedRequests', () => {
  it('knows a request for its memory, by client and exact bytes, then forgets it', () => {
    let now = 1000;
    const f = new FinishedRequests(3000, 10, () => now);
    f.remember('10.0.0.5:1001', 'rrq-a');
    expect(f.justFinished('10.0.0.5:1001', 'rrq-a')).toBe(true);
    expect(f.justFinished('10.0.0.5:1002', 'rrq-a')).toBe(false);
    expect(f.justFinished('10.0.0.5:1001', 'rrq-b')).toBe(false);
    now += 2999;
    expect(f.justFinished('10.0.0.5:1001', 'rrq-a')).toBe(true);
    now += 1;
    expect(f.justFinished('10.0.0.5:1001', 'rrq-a')).toBe(false);
    expect(f.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const f = new FinishedRequests(3000, 3, () => 0);
    for (const port of [1, 2, 3, 4]) f.remember(`10.0.0.5:${port}`, 'rrq');
    expect(f.size).toBe(3);
    expect(f.justFinished('10.0.0.5:1', 'rrq')).toBe(false);
    expect(f.justFinished('10.0.0.5:4', 'rrq')).toBe(true);
  });
});

// Request bytes as the real clients send them (captured from curl 7.88 and pxe/CLIENTS.md for OVMF).
const CURL_RRQ = Buffer.from('\x00\x01small.bin\x00octet\x00tsize\x000\x00blksize\x001468\x00timeout\x006\x00', 'latin1');
const OVMF_PROBE = Buffer.from('\x00\x01small.bin\x00octet\x00tsize\x000\x00blksize\x001468\x00windowsize\x004\x00', 'latin1');
const OVMF_RRQ = Buffer.from('\x00\x01small.bin\x00octet\x00blksize\x001468\x00windowsize\x004\x00', 'latin1');
const USER_ABORTED = Buffer.from('\x00\x05\x00\x08User aborted the transfer\x00', 'latin1');

let dir: string;
const log = pino({ level: 'silent' });
const rig = useLoopbackRig();
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rbt-finished-'));
  mkdirSync(join(dir, 'root'));
  writeFileSync(join(dir, 'root', 'small.bin'), Buffer.alloc(2000, 0x33)); // 2 blocks at 1468
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs curl's lock-step transfer of small.bin to its end (OACK, ACK 0, DATA 1, ACK 1, DATA 2, ACK 2); returns the transfer's port. */
async function fetchSmall(c: RawClient, svc: TftpService): Promise<number> {
  const before = c.received.length;
  c.send(CURL_RRQ, svc.port);
  const [oack] = (await c.waitFor(before + 1)).slice(before);
  expect(oack!.packet?.op).toBe('OACK');
  c.send(encodeAck(0), oack!.from);
  await c.waitFor(before + 2);
  c.send(encodeAck(1), oack!.from);
  await c.waitFor(before + 3);
  c.send(encodeAck(2), oack!.from);
  await c.quiet(100);
  return oack!.from;
}

/** OVMF's real transfer of small.bin after `before` packets: its OACK (checked), then ACK 0, DATA 1-2, ACK 2. */
async function ovmfTransferFrom(c: RawClient, before: number): Promise<void> {
  const oack = (await c.waitFor(before + 1))[before]!;
  expect(oack.packet).toEqual({ op: 'OACK', options: [['blksize', '1468'], ['windowsize', '4']] });
  c.send(encodeAck(0), oack.from);
  await c.waitFor(before + 3);
  c.send(encodeAck(2), oack.from);
  await c.quiet(100);
}

describe.each([
  { batched: true, acks: true, thread: false },
  { batched: true, acks: true, thread: true },
  { batched: false, acks: false, thread: false },
])('late copies of a finished request (batchedSends $batched, nativeAcks $acks, ackThread $thread)', ({ batched, acks, thread }) => {
  // No retransmission within a case: a DATA resent under load would shift the packet counts the cases wait for.
  const serve = (finishedMemoryMs?: number) =>
    rig.serve({ root: join(dir, 'root'), log, retransmitMs: 2000, minRetransmitMs: 2000, maxRetries: 2, batchedSends: batched, nativeAcks: acks, ackThread: thread, finishedMemoryMs });

  it('starts no second transfer for curl\'s retransmitted RRQ read after its transfer ended', async () => {
    const svc = await serve();
    const c = await rig.client();
    await fetchSmall(c, svc);
    expect(svc.metrics().totals).toMatchObject({ completed: 1 });
    c.send(CURL_RRQ, svc.port);
    expect(await c.quiet(400)).toBe(0);
    const m = svc.metrics();
    expect(m.totals).toMatchObject({ requests: 2, completed: 1, lateDuplicateRequests: 1, aborted: 0, timeouts: 0 });
    expect(m.activeTransfers).toBe(0);
  });

  it('drops the copy when the loop reads it after the final ACK (both queued while the loop was busy)', async () => {
    const svc = await serve();
    const c = await rig.client();
    c.send(CURL_RRQ, svc.port);
    const [oack] = await c.waitFor(1);
    c.send(encodeAck(0), oack!.from);
    await c.waitFor(2);
    c.send(encodeAck(1), oack!.from);
    await c.waitFor(3);
    // The final ACK first, then the retransmitted RRQ, before the server's loop runs again.
    c.send(encodeAck(2), oack!.from);
    c.send(CURL_RRQ, svc.port);
    const until = Date.now() + 30;
    while (Date.now() < until); // hold the loop (server and client share it)
    expect(await c.quiet(400)).toBe(0);
    const m = svc.metrics().totals;
    expect(m).toMatchObject({ requests: 2, completed: 1 });
    // On the loop the final ACK's socket is read first (it became readable first). The thread hands
    // the final ACK over by a wake-up of its own, which may come after the copy: then it is a plain duplicate.
    if (thread) expect(m.duplicateRequests + m.lateDuplicateRequests).toBe(1);
    else expect(m).toMatchObject({ duplicateRequests: 0, lateDuplicateRequests: 1 });
  });

  it('after OVMF\'s size probe drops a late copy of the probe, and its real RRQ from the same port transfers', async () => {
    const svc = await serve();
    const c = await rig.client();
    c.send(OVMF_PROBE, svc.port);
    const [oack] = await c.waitFor(1);
    c.send(USER_ABORTED, oack!.from);
    await c.quiet(100);
    c.send(OVMF_PROBE, svc.port);
    expect(await c.quiet(300)).toBe(0);
    c.send(OVMF_RRQ, svc.port);
    await ovmfTransferFrom(c, 1);
    expect(svc.metrics().totals).toMatchObject({ requests: 3, probes: 1, lateDuplicateRequests: 1, completed: 1, bytesSent: 2000 });
  });

  it('serves OVMF\'s real RRQ read before the probe\'s abort (both queued while the loop was busy)', async () => {
    const svc = await serve();
    const c = await rig.client();
    c.send(OVMF_PROBE, svc.port);
    const [oack] = await c.waitFor(1);
    // The abort, then at once the real request from the same port, as OVMF sends them.
    c.send(USER_ABORTED, oack!.from);
    c.send(OVMF_RRQ, svc.port);
    const until = Date.now() + 30;
    while (Date.now() < until); // hold the loop (server and client share it)
    await ovmfTransferFrom(c, 1);
    expect(svc.metrics().totals).toMatchObject({ requests: 2, probes: 1, duplicateRequests: 0, completed: 1, aborted: 0, bytesSent: 2000 });
  });

  it('a new request from the port of a transfer its client left ends that transfer and is served', async () => {
    const svc = await serve();
    const c = await rig.client();
    c.send(CURL_RRQ, svc.port);
    const [first] = await c.waitFor(1);
    expect(first!.packet?.op).toBe('OACK');
    // No ACK for that OACK: the client asks for something else from the same port.
    c.send(OVMF_RRQ, svc.port);
    const got = await c.waitFor(2);
    expect(got[1]!.packet).toEqual({ op: 'OACK', options: [['blksize', '1468'], ['windowsize', '4']] });
    expect(got[1]!.from).not.toBe(first!.from);
    // The client left the first transfer before its file: it ends aborted.
    expect(svc.metrics().totals).toMatchObject({ requests: 2, duplicateRequests: 0, aborted: 1, completed: 0 });
    expect(svc.metrics().activeTransfers).toBe(1);
  });

  it('serves the same request again once the memory has passed, and at once after an abort', async () => {
    const svc = await serve(200);
    const c = await rig.client();
    await fetchSmall(c, svc);
    await new Promise((r) => setTimeout(r, 250));
    await fetchSmall(c, svc);
    await new Promise((r) => setTimeout(r, 250));
    c.send(CURL_RRQ, svc.port);
    const [oack] = (await c.waitFor(7)).slice(6);
    c.send(Buffer.from('\x00\x05\x00\x00cancelled\x00', 'latin1'), oack!.from);
    await c.quiet(50);
    await fetchSmall(c, svc);
    expect(svc.metrics().totals).toMatchObject({ requests: 4, completed: 3, aborted: 1, lateDuplicateRequests: 0 });
  });
});
