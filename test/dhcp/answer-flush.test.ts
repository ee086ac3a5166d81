// answerBatchDurably: replies that rest on the commit wait for the flusher;
// a failed flush drops them as store-failed; DISCOVER batches never wait,
// nor does an OFFER in a batch that also holds a REQUEST, nor anything a
// proxy answers.
import { describe, expect, it } from 'vitest';
import { answerBatchDurably, newMetrics, StoreRefusals, type Reply } from '../../src/dhcp/answer.js';
import { parseDhcp } from '../../src/dhcp/codec.js';
import { PROCESS_DURABLE, type WalFlusher } from '../../src/store/wal-flush.js';
import { ipxeBiosDiscover, ipxeBiosRequest, ovmfProxyRequest, plainDiscover } from './fixtures.js';
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

  it('in proxy mode sends the boot-server ACK without waiting for a flush (a proxy binds nothing), its event written all the same', () => {
    const ctx = makeContext(settingsWith({ mode: 'proxy', subnet: undefined }));
    const metrics = newMetrics();
    const { flusher, waiting } = heldFlusher();
    const got: Array<Array<Reply | undefined>> = [];
    answerBatchDurably(ctx, metrics, [{ msg: ovmfProxyRequest('10.77.0.50', SERVER), from: CLIENT, via: 'proxy' }], new StoreRefusals(ctx.log, ctx.now), flusher, (r) => got.push(r));
    expect(waiting).toHaveLength(0);
    expect(got).toHaveLength(1);
    const ack = parseDhcp(got[0]![0]!.bytes);
    expect(ack.ok && ack.packet.options.messageType).toBe(5);
    expect(metrics.proxyAcks).toBe(1);
    expect(ctx.store.events({ mac: '52:54:00:12:34:02' }).map((e) => e.kind)).toEqual(['inventory', 'dhcp']);
  });

  it('sends the OFFER of a batch that also holds a REQUEST at once, and the ACK only after the flush', () => {
    const ctx = makeContext(settingsWith({ pool: { start: '10.77.0.100', end: '10.77.0.150' } }));
    const metrics = newMetrics();
    const { flusher, waiting } = heldFlusher();
    const early: Array<Array<Reply | undefined>> = [];
    const late: Array<Array<Reply | undefined>> = [];
    const batch = [
      { msg: ipxeBiosRequest(SERVER, '10.77.0.11'), from: CLIENT, via: 'dhcp' as const },
      { msg: plainDiscover([0x52, 0x54, 0x00, 0x77, 0x00, 0x0b]), from: CLIENT, via: 'dhcp' as const },
    ];
    answerBatchDurably(ctx, metrics, batch, new StoreRefusals(ctx.log, ctx.now), flusher, (r) => late.push(r), (r) => early.push(r));
    expect(waiting).toHaveLength(1);
    expect(late).toHaveLength(0);
    expect(early).toHaveLength(1);
    expect(early[0]![0]).toBeUndefined();
    const offer = parseDhcp(early[0]![1]!.bytes);
    expect(offer.ok && offer.packet.options.messageType).toBe(2);
    expect(metrics).toMatchObject({ offers: 1, acks: 0 });
    waiting.shift()!(undefined);
    expect(late).toHaveLength(1);
    expect(late[0]![1]).toBeUndefined();
    const ack = parseDhcp(late[0]![0]!.bytes);
    expect(ack.ok && ack.packet.options.messageType).toBe(5);
    expect(metrics).toMatchObject({ offers: 1, acks: 1 });
  });

  it('with process durability, ACKs a binding as soon as it is committed, with no flush', () => {
    const ctx = makeContext(settingsWith());
    const metrics = newMetrics();
    let got: Array<Reply | undefined> | undefined;
    answerBatchDurably(ctx, metrics, [{ msg: ipxeBiosRequest(SERVER, '10.77.0.11'), from: CLIENT, via: 'dhcp' }], new StoreRefusals(ctx.log, ctx.now), PROCESS_DURABLE, (r) => (got = r));
    // Delivered inside the call: nothing waited for a disk.
    const ack = parseDhcp(got![0]!.bytes);
    expect(ack.ok && ack.packet.options.messageType).toBe(5);
    expect(ctx.leases.get('52:54:00:12:34:01')).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
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
