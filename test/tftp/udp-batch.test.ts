// The addon's batched TFTP sends (native/bindtodevice/udp-batch.c), driven
// directly: DATA headers and payloads straight from the file buffer, block
// numbers modulo 65536, an empty final block, one datagram, the closed-port
// error as -ECONNREFUSED, and bad arguments refused.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { loadUdpBatch } from '../../src/tftp/transfer-socket.js';

const batch = loadUdpBatch()!;
const fds: number[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const s of sockets.splice(0)) s.close();
});

async function receiver(): Promise<{ port: number; got: Buffer[]; wait(n: number): Promise<Buffer[]> }> {
  const s = createSocket('udp4');
  sockets.push(s);
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const wait = async (n: number) => {
    for (let i = 0; got.length < n && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
    return got;
  };
  return { port: s.address().port, got, wait };
}

describe('udp-batch addon', () => {
  it('is built with the batch calls', () => {
    expect(batch).toBeDefined();
  });

  it('sends a window of DATA blocks from the buffer, numbering modulo 65536, with the empty block that ends a file', async () => {
    const r = await receiver();
    const fd = batch.openConnectedUdp('127.0.0.1', '127.0.0.1', r.port);
    fds.push(fd);
    // 65536 blocks of 1 byte: blocks 65535..65537 are the last two bytes and the empty end block.
    const data = Buffer.alloc(65536);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    expect(batch.sendBlocks(fd, data, 1, 65535, 65537)).toBe(3);
    const got = await r.wait(3);
    expect(got.map((p) => [...p])).toEqual([[0, 3, 0xff, 0xff, 0xfe], [0, 3, 0, 0, 0xff], [0, 3, 0, 1]]);
    // A subarray is sent from its own offset.
    expect(batch.sendBlocks(fd, data.subarray(10, 14), 2, 1, 2)).toBe(2);
    expect((await r.wait(5)).slice(3).map((p) => [...p])).toEqual([[0, 3, 0, 1, 10, 11], [0, 3, 0, 2, 12, 13]]);
    // More blocks than one sendmmsg call carries.
    expect(batch.sendBlocks(fd, Buffer.alloc(100 * 8), 8, 1, 100)).toBe(100);
    expect((await r.wait(105)).length).toBe(105);
    expect(batch.sendDatagram(fd, Buffer.from([0, 6, 0x41, 0]))).toBe(4);
    expect([...(await r.wait(106))[105]!]).toEqual([0, 6, 0x41, 0]);
  });

  it('returns -ECONNREFUSED once the peer\'s port is closed, instead of throwing', async () => {
    const r = await receiver();
    const fd = batch.openConnectedUdp('127.0.0.1', '127.0.0.1', r.port);
    fds.push(fd);
    sockets.splice(0).forEach((s) => s.close());
    await new Promise((res) => setTimeout(res, 50));
    const data = Buffer.alloc(16);
    // The first send draws the ICMP port unreachable; a later one reports it.
    const results: number[] = [];
    for (let i = 0; i < 5 && !results.includes(-constants.errno.ECONNREFUSED); i++) {
      results.push(batch.sendBlocks(fd, data, 8, 1, 1));
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(results).toContain(-constants.errno.ECONNREFUSED);
  });

  it('refuses arguments outside the data or of the wrong kind', () => {
    expect(() => batch.sendBlocks(0, Buffer.alloc(4), 0, 1, 1)).toThrow(TypeError); // blksize 0
    expect(() => batch.sendBlocks(0, Buffer.alloc(4), 2, 4, 4)).toThrow(TypeError); // block 4 starts at byte 6
    expect(() => batch.sendBlocks(0, Buffer.alloc(4), 2, 2, 1)).toThrow(TypeError);
    expect(() => batch.sendBlocks(0, 'text' as unknown as Buffer, 2, 1, 1)).toThrow(TypeError);
    expect(() => batch.openConnectedUdp('127.0.0.1', '::1', 69)).toThrow(/numeric and of one family/);
    expect(() => batch.openConnectedUdp('127.0.0.1', '127.0.0.1', 0)).toThrow(TypeError);
  });
});
