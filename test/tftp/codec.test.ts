import { describe, expect, it } from 'vitest';
import { decodePacket, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, toNetascii } from '../../src/tftp/codec.js';

const bytes = (...parts: Array<number[] | string>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('TFTP codec', () => {
  it('decodes an RRQ with options, lowercasing names (RFC 2347) and keeping values', () => {
    const r = decodePacket(bytes([0, 1], 'ipxe.efi\0OCTET\0TSize\x000\0blksize\x001468\0windowsize\x004\0'));
    expect(r).toEqual({ ok: true, packet: { op: 'RRQ', filename: 'ipxe.efi', mode: 'octet', options: [['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']] } });
  });

  it('decodes a WRQ and tolerates trailing NUL padding after the options', () => {
    const r = decodePacket(bytes([0, 2], 'x\0netascii\0\0\0\0'));
    expect(r.ok && r.packet).toEqual({ op: 'WRQ', filename: 'x', mode: 'netascii', options: [] });
  });

  it('keeps filename bytes exactly (latin1) so path policy sees them', () => {
    const r = decodePacket(bytes([0, 1], 'a\r\xffb\0octet\0'));
    expect(r.ok && r.packet.op === 'RRQ' && r.packet.filename).toBe('a\r\xffb');
  });

  it.each([
    ['too short', [0, 1, 0], 'too-short'],
    ['unknown opcode', [0, 9, 0, 0], 'unknown-opcode'],
    ['opcode 0', [0, 0, 1, 2], 'unknown-opcode'],
    ['unterminated filename', bytes([0, 1], 'abc'), 'unterminated-string'],
    ['missing mode', bytes([0, 1], 'abc\0'), 'unterminated-string'],
    ['unterminated mode', bytes([0, 1], 'abc\0oct'), 'unterminated-string'],
    ['empty filename', bytes([0, 1], '\0octet\0'), 'empty-filename'],
    ['unknown mode', bytes([0, 1], 'f\0binary\0'), 'bad-mode'],
    ['option without value', bytes([0, 1], 'f\0octet\0blksize\0'), 'odd-options'],
    ['ACK with extra bytes', [0, 4, 0, 1, 0], 'bad-length'],
    ['OACK unterminated', bytes([0, 6], 'blksize\x00512'), 'unterminated-string'],
  ])('rejects %s with a typed error', (_name, buf, kind) => {
    const r = decodePacket(Uint8Array.from(buf as number[]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.kind).toBe(kind);
  });

  it('round-trips DATA, ACK, ERROR, OACK and requests', () => {
    const payload = Buffer.from('hello');
    expect(decodePacket(encodeData(7, payload))).toMatchObject({ ok: true, packet: { op: 'DATA', block: 7, data: payload } });
    expect(decodePacket(encodeAck(65535))).toEqual({ ok: true, packet: { op: 'ACK', block: 65535 } });
    expect(decodePacket(encodeError(8, 'User aborted the transfer'))).toEqual({ ok: true, packet: { op: 'ERROR', code: 8, message: 'User aborted the transfer' } });
    expect(decodePacket(encodeOack([['blksize', '1468'], ['tsize', '123']]))).toEqual({ ok: true, packet: { op: 'OACK', options: [['blksize', '1468'], ['tsize', '123']] } });
    expect(decodePacket(encodeRequest('RRQ', 'a/b', 'octet', [['timeout', '6']]))).toEqual({ ok: true, packet: { op: 'RRQ', filename: 'a/b', mode: 'octet', options: [['timeout', '6']] } });
  });

  it('encodes exact bytes (RFC 1350 §5)', () => {
    expect([...encodeAck(258)]).toEqual([0, 4, 1, 2]);
    expect([...encodeData(1, Buffer.from('AB'))]).toEqual([0, 3, 0, 1, 0x41, 0x42]);
    expect([...encodeError(1, 'File not found')]).toEqual([0, 5, 0, 1, ...Buffer.from('File not found'), 0]);
    expect(encodeOack([['tsize', '5']]).toString('latin1')).toBe('\x00\x06tsize\x005\x00');
  });

  it('rolls the block number over past 65535 to 0', () => {
    expect([...encodeData(65536, Buffer.alloc(0))]).toEqual([0, 3, 0, 0]);
    expect([...encodeData(65537, Buffer.alloc(0))]).toEqual([0, 3, 0, 1]);
  });

  it('accepts an ERROR without its final NUL (message is for logs only)', () => {
    expect(decodePacket(bytes([0, 5, 0, 8], 'abort'))).toEqual({ ok: true, packet: { op: 'ERROR', code: 8, message: 'abort' } });
  });

  it('converts to netascii: LF -> CR LF, CR -> CR NUL', () => {
    expect([...toNetascii(Buffer.from('a\nb\rc'))]).toEqual([0x61, 13, 10, 0x62, 13, 0, 0x63]);
    const plain = Buffer.from('no line ends');
    expect(toNetascii(plain)).toBe(plain);
  });
});
