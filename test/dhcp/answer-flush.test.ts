// answerBatchDurably: replies that rest on the commit wait for the flusher;
// a failed flush drops them as store-failed; DISCOVER batches never wait.
import { describe, expect, it } from 'vitest';
import { answerBatchDurably, newMetrics, StoreRefusals, type Reply } from '../../src/dhcp/answer.js';
import { parseDhcp } from '../../src/dhcp/codec.js';
import type { WalFlusher } from '../../src/store/wal-flush.js';
import { ipxeBiosDiscover, ipxeBiosRequest } from './fixtures.js';
import { makeContext, SERVER, settingsWith } from './context.js';

const CLIENT = { address: '0.0.0.0', port: 68 };

/** A flusher the test answers by hand. */
function heldFlusher() {
  const waiting: Array<(err: Error | undefined) => void> = [];
  const flusher = { afterDurable: (done: (err: Error | undefined) => void) => void waiting.push(done) } as unknown as WalFlusher;
  return { flusher, waiting };
}

describe('answerBatchDurably', () => {
  it('holds a REQUEST batch\'s ACK until the flush returns, and sends a DISCOVER batch\'s OFFER without asking', () => {
    const ctx = makeContext(settingsWith());
    const metrics = newMetrics();
    const refusals = new StoreRefusals(ctx.log, ctx.now);
    const { flusher, waiting } = heldFlusher();
    const got: Array<Array<Reply | undefined>> = [];
    answerBatchDurably(ctx, metrics, [{ msg: ipxeBiosDiscover(), from: CLIENT, via: 'dhcp' }], refusals, flusher, (r) => got.push(r));
    expect(waiting).toHaveLength(0);
    expect(got).toHaveLength(1);
    answerBatchDurably(ctx, metrics, [{ msg: ipxeBiosRequest(SERVER, '10.77.0.11'), from: CLIENT, via: 'dhcp' }], refusals, flusher, (r) => got.push(r));
    expect(got).toHaveLength(1);
    expect(metrics.acks).toBe(0);
    // Committed (visible) already, at NORMAL; only the reply waits.
    expect(ctx.leases.get('52:54:00:12:34:01')).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
    waiting.shift()!(undefined);
    expect(got).toHaveLength(2);
    const ack = parseDhcp(got[1]![0]!.bytes);
    expect(ack.ok && ack.packet.options.messageType).toBe(5);
    expect(metrics.acks).toBe(1);
  });

  it('drops the replies of a batch whose flush failed, as store-failed', () => {
    const ctx = makeContext(settingsWith());
    const metrics = newMetrics();
    const { flusher, waiting } = heldFlusher();
    let got: Array<Reply | undefined> | undefined;
    answerBatchDurably(ctx, metrics, [{ msg: ipxeBiosRequest(SERVER, '10.77.0.11'), from: CLIENT, via: 'dhcp' }], new StoreRefusals(ctx.log, ctx.now), flusher, (r) => (got = r));
    waiting.shift()!(new Error('EIO: i/o error, fdatasync'));
    expect(got).toEqual([undefined]);
    expect(metrics.acks).toBe(0);
    expect(metrics.drops).toEqual({ 'store-failed': 1 });
  });
});
