import { describe, expect, it } from 'vitest';
import { decodePacket, encodeOack } from '../../src/tftp/codec.js';
import { MAX_BACKOFF_MS, Transfer, type Step, type TransferParams } from '../../src/tftp/transfer.js';

function file(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function make(over: Partial<TransferParams> & { data: Uint8Array }): Transfer {
  return new Transfer({ blksize: 512, windowsize: 1, timeoutMs: 1000, fixedTimeout: false, maxRetries: 3, ...over });
}

/** The DATA blocks a step sends (as the per-packet socket encodes them), as [wire block, payload length]. */
function blocks(t: Transfer, step: Step): Array<[number, number]> {
  return t.packets(step).map((p) => {
    const d = decodePacket(p);
    if (!d.ok || d.packet.op !== 'DATA') throw new Error('not DATA');
    return [d.packet.block, d.packet.data.length];
  });
}

/** A perfect client: ACKs the last block of each window; returns the bytes received. */
function receiveAll(t: Transfer, first: Step): Buffer {
  const got: Buffer[] = [];
  let step = first;
  for (let guard = 0; !step.end; guard++) {
    if (guard > 1e6) throw new Error('no end');
    let last = -1;
    for (const p of t.packets(step)) {
      const d = decodePacket(p);
      if (d.ok && d.packet.op === 'DATA') (got.push(Buffer.from(d.packet.data)), (last = d.packet.block));
      else if (d.ok && d.packet.op === 'OACK') last = 0;
    }
    step = t.onAck(last);
  }
  expect(step.end?.outcome).toBe('complete');
  return Buffer.concat(got);
}

describe('TFTP transfer state machine', () => {
  it('sends a file in 512-byte blocks without options, ending with a short block', () => {
    const data = file(1300);
    const t = make({ data });
    const s = t.start();
    expect(blocks(t, s)).toEqual([[1, 512]]);
    expect(s.timer).toBe(1000);
    expect(receiveAll(t, s).equals(data)).toBe(true);
    expect(t.totalBlocks).toBe(3);
  });

  it('adds an empty final block when the size is a multiple of blksize', () => {
    const t = make({ data: file(1024) });
    expect(t.totalBlocks).toBe(3);
    const s1 = t.start();
    t.onAck(1);
    expect(blocks(t, t.onAck(2))).toEqual([[3, 0]]);
    expect(t.onAck(3).end?.outcome).toBe('complete');
    expect(blocks(t, s1)).toEqual([[1, 512]]);
  });

  it('sends the OACK first and starts DATA only on ACK 0', () => {
    const oack = encodeOack([['blksize', '1468']]);
    const t = make({ data: file(3000), blksize: 1468, oack });
    const s = t.start();
    expect(t.packets(s)).toEqual([oack]);
    expect(t.packets(t.onAck(1))).toEqual([]);
    expect(blocks(t, t.onAck(0))).toEqual([[1, 1468]]);
  });

  it('treats ERROR 8 after the OACK as a size probe (OVMF), sending nothing back', () => {
    const t = make({ data: file(10), oack: encodeOack([['tsize', '10']]) });
    t.start();
    const s = t.onError(8, 'User aborted the transfer');
    expect(s).toEqual({ timer: 'stop', end: { outcome: 'probe', detail: expect.any(String) } });
    expect(t.packets(t.onAck(0))).toEqual([]);
  });

  it('reports any other ERROR as an abort and never answers it', () => {
    const t = make({ data: file(2000) });
    t.start();
    const s = t.onError(0, 'bye');
    expect(t.packets(s)).toEqual([]);
    expect(s.end?.outcome).toBe('aborted');
  });

  it('names each window as a block range, and counts its payload bytes (short and empty last blocks included)', () => {
    const t = make({ data: file(512 * 3), windowsize: 4 });
    const s = t.start();
    expect(s.blocks).toEqual({ from: 1, to: 4 }); // 3 full blocks and the empty one that ends the file
    expect(t.payloadBytes({ from: 1, to: 4 })).toBe(1536);
    expect(t.payloadBytes({ from: 4, to: 4 })).toBe(0);
    const u = make({ data: file(1000) });
    expect(u.payloadBytes({ from: 2, to: 2 })).toBe(488);
  });

  it('sends windows of windowsize blocks and advances on the window\'s last ACK', () => {
    const t = make({ data: file(512 * 10 + 1), windowsize: 4 });
    expect(blocks(t, t.start()).map((b) => b[0])).toEqual([1, 2, 3, 4]);
    expect(blocks(t, t.onAck(4)).map((b) => b[0])).toEqual([5, 6, 7, 8]);
    // RFC 7440: an ACK inside the window means a gap after it: go on from there.
    expect(blocks(t, t.onAck(6)).map((b) => b[0])).toEqual([7, 8, 9, 10]);
    expect(blocks(t, t.onAck(10)).map((b) => b[0])).toEqual([11]);
    expect(t.onAck(11).end?.outcome).toBe('complete');
  });

  it('ignores duplicate and stale ACKs (no Sorcerer\'s Apprentice retransmission)', () => {
    const t = make({ data: file(512 * 5), windowsize: 2 });
    t.start();
    t.onAck(2);
    expect(t.onAck(2)).toEqual({ timer: 'keep' });
    expect(t.onAck(1)).toEqual({ timer: 'keep' });
    // Beyond what was sent: not ours.
    expect(t.onAck(9)).toEqual({ timer: 'keep' });
    expect(blocks(t, t.onAck(4)).map((b) => b[0])).toEqual([5, 6]);
  });

  it('retransmits the unacknowledged window on timeout with doubling backoff, then gives up', () => {
    const t = make({ data: file(512 * 8), windowsize: 3, maxRetries: 4 });
    t.start();
    t.onAck(1);
    const r1 = t.onTimeout();
    expect(blocks(t, r1).map((b) => b[0])).toEqual([2, 3, 4]);
    expect(r1.timer).toBe(2000);
    expect(t.onTimeout().timer).toBe(4000);
    expect(t.onTimeout().timer).toBe(MAX_BACKOFF_MS);
    expect(t.onTimeout().timer).toBe(MAX_BACKOFF_MS);
    const last = t.onTimeout();
    expect(last.end?.outcome).toBe('timeout');
    expect(t.packets(last)).toEqual([]);
    expect(t.retransmissions).toBe(12);
  });

  it('gives up as unconfirmed when every block went out but the final ACK never came', () => {
    const t = make({ data: file(700), maxRetries: 1 });
    t.start();
    t.onAck(1);
    t.onTimeout();
    expect(t.onTimeout().end?.outcome).toBe('unconfirmed');
  });

  it('ends when the client port closes: unconfirmed after the last block, aborted before', () => {
    const a = make({ data: file(700) });
    a.start();
    a.onAck(1);
    expect(a.onPeerGone().end?.outcome).toBe('unconfirmed');
    const b = make({ data: file(7000) });
    b.start();
    expect(b.onPeerGone().end?.outcome).toBe('aborted');
    expect(b.onPeerGone()).toEqual({ timer: 'keep' });
  });

  it('resets the backoff when the client makes progress', () => {
    const t = make({ data: file(512 * 8), maxRetries: 2 });
    t.start();
    t.onTimeout();
    t.onTimeout();
    const s = t.onAck(1);
    expect(s.timer).toBe(1000);
    expect(t.onTimeout().end).toBeUndefined();
  });

  it('keeps a client-set timeout fixed (RFC 2349)', () => {
    const t = make({ data: file(600), timeoutMs: 6000, fixedTimeout: true });
    t.start();
    expect(t.onTimeout().timer).toBe(6000);
    expect(t.onTimeout().timer).toBe(6000);
  });

  it('retransmits a lost OACK on timeout', () => {
    const oack = encodeOack([['tsize', '1']]);
    const t = make({ data: file(1), oack });
    t.start();
    expect(t.packets(t.onTimeout())).toEqual([oack]);
  });

  it('rolls block numbers over past 65535 and still accepts the wrapped ACKs', () => {
    const data = file(8 * 70000 + 3);
    const t = make({ data, blksize: 8, windowsize: 7 });
    expect(t.totalBlocks).toBe(70001);
    expect(receiveAll(t, t.start()).equals(data)).toBe(true);
  });

  it('survives a lost final ACK: the retransmitted last block is ACKed again', () => {
    const t = make({ data: file(100) });
    t.start();
    expect(blocks(t, t.onTimeout())).toEqual([[1, 100]]);
    expect(t.onAck(1).end?.outcome).toBe('complete');
    expect(t.onTimeout()).toEqual({ timer: 'keep' });
  });

  it('delivers the file exactly under random loss, duplication and reordering of ACKs and DATA', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const data = file(300_000);
    const t = make({ data, blksize: 1000, windowsize: 8, maxRetries: 1000 });
    const received = new Map<number, Buffer>();
    let expected = 1;
    let inFlight: Uint8Array[] = [];
    let step = t.start();
    let sent = t.packets(step);
    for (let i = 0; i < 1e6 && !step.end; i++) {
      inFlight.push(...sent.filter(() => rnd() > 0.1));
      if (rnd() < 0.2) inFlight.reverse();
      const acks: number[] = [];
      for (const p of inFlight) {
        const d = decodePacket(p);
        if (!d.ok || d.packet.op !== 'DATA') continue;
        // A window client: takes the next block in order, ACKs on a gap.
        if ((d.packet.block & 0xffff) === (expected & 0xffff)) {
          received.set(expected, Buffer.from(d.packet.data));
          expected++;
        } else acks.push((expected - 1) & 0xffff);
      }
      inFlight = [];
      acks.push((expected - 1) & 0xffff);
      step = { timer: 'keep' };
      sent = [];
      for (const a of acks) {
        if (rnd() < 0.1) continue;
        const s = t.onAck(a);
        if (rnd() < 0.1) t.onAck(a);
        sent.push(...t.packets(s));
        step = { timer: s.timer, end: s.end ?? step.end };
        if (s.end) break;
      }
      if (!step.end && sent.length === 0) sent = t.packets((step = t.onTimeout()));
    }
    expect(step.end?.outcome).toBe('complete');
    expect(Buffer.concat([...received.values()]).equals(data)).toBe(true);
  });
});

describe('TFTP adaptive retransmit interval (RFC 1123 §4.2.3.2)', () => {
  const adaptive = (over: Partial<TransferParams> = {}) => make({ data: file(512 * 20), minTimeoutMs: 200, ...over });

  it('after fast round trips, a lost DATA is resent at the floor, not after the first interval', () => {
    const t = adaptive();
    let now = 0;
    let step = t.start(now);
    for (let block = 1; block <= 5; block++) step = t.onAck(block, (now += 2));
    expect(step.timer).toBe(200);
    expect(t.retransmitMs).toBe(200);
    // The DATA of block 6 is lost: the timer fires, block 6 goes again, the interval doubles from the floor.
    const again = t.onTimeout();
    expect(blocks(t, again)).toEqual([[6, 512]]);
    expect(again.timer).toBe(400);
  });

  it('follows slow round trips up, never past the first interval', () => {
    const t = adaptive();
    let now = 0;
    let step = t.start(now);
    for (let block = 1; block <= 3; block++) step = t.onAck(block, (now += 150));
    expect(step.timer).toBeGreaterThan(200);
    expect(step.timer).toBeLessThanOrEqual(1000);
    const slow = adaptive();
    now = 0;
    slow.start(now);
    expect(slow.onAck(1, (now += 5000)).timer).toBe(1000);
  });

  it('takes no sample from a retransmitted window (Karn): a late ACK after a timeout does not stretch the interval', () => {
    const t = adaptive();
    let now = 0;
    t.start(now);
    for (let block = 1; block <= 4; block++) t.onAck(block, (now += 2));
    expect(t.retransmitMs).toBe(200);
    t.onTimeout(); // block 5 resent
    const after = t.onAck(5, (now += 900)); // this ACK may answer either send
    expect(t.retransmitMs).toBe(200);
    expect(after.timer).toBe(200);
  });

  it('keeps the client-set timeout (RFC 2349) and the fixed interval without a floor', () => {
    let now = 0;
    const fixed = adaptive({ timeoutMs: 3000, fixedTimeout: true });
    fixed.start(now);
    expect(fixed.onAck(1, (now += 2)).timer).toBe(3000);
    const plain = make({ data: file(512 * 4) });
    plain.start(0);
    expect(plain.onAck(1, 2).timer).toBe(1000);
  });

  it('measures the OACK round trip too', () => {
    const oack = encodeOack([['blksize', '512']]);
    const t = adaptive({ oack });
    t.start(0);
    expect(t.onAck(0, 3).timer).toBe(200);
  });
});

describe('Transfer.advance (windows an I/O fast path sent on ACKs the machine never saw)', () => {
  /** Two transfers of one file: `seen` takes ACKs 4, 8 and 12 itself; `told` hears of them from advance(). */
  function pair(): { seen: Transfer; told: Transfer } {
    const p = { data: file(512 * 30), windowsize: 4, timeoutMs: 1000, minTimeoutMs: 10 };
    const seen = make(p);
    const told = make(p);
    seen.start(0);
    told.start(0);
    seen.onAck(4, 20);
    seen.onAck(8, 40);
    seen.onAck(12, 60);
    told.advance(12, 12, [20, 20, 20], 70, 10);
    return { seen, told };
  }

  it('leaves the machine where taking the ACKs itself would have', () => {
    const { seen, told } = pair();
    expect(told.ackedBlocks).toBe(12);
    expect(told.packetsSent).toBe(seen.packetsSent);
    expect(told.retransmitMs).toBe(seen.retransmitMs);
    // The next ACK, a duplicate, a gap and a timeout all answer alike.
    expect(told.onAck(12, 80)).toEqual(seen.onAck(12, 80));
    expect(told.onTimeout()).toEqual(seen.onTimeout());
    expect(told.onAck(14, 90)).toEqual(seen.onAck(14, 90));
  });

  it('ignores news older than what it has, and any before the data phase', () => {
    const { told } = pair();
    told.advance(8, 4, [], 100);
    expect(told.ackedBlocks).toBe(12);
    const withOack = make({ data: file(5000), oack: encodeOack([['blksize', '512']]) });
    withOack.start(0);
    withOack.advance(4, 4, [], 10);
    expect(withOack.ackedBlocks).toBe(0);
  });
});
