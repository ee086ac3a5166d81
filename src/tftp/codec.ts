// TFTP wire format: pure encode/decode, no I/O and no policy.
//   RFC 1350 §5 (packet formats, error codes), RFC 2347 (option extension,
//   OACK, error 8), RFC 2348 (blksize), RFC 2349 (timeout, tsize),
//   RFC 7440 (windowsize). Filenames and option text are kept byte for byte
//   (latin1) so the path policy in files.ts sees exactly what was sent.

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 §5 error codes, plus RFC 2347's 8 (option negotiation / "terminate"). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** RFC 2348: the largest blksize a client may ask for. */
export const MAX_BLKSIZE = 65464;

/** Options in the order the peer sent them; names lowercased (RFC 2347: case-insensitive). */
export type TftpOptions = Array<[name: string, value: string]>;

export type TftpPacket =
  | { op: 'RRQ' | 'WRQ'; filename: string; mode: string; options: TftpOptions }
  | { op: 'DATA'; block: number; data: Uint8Array }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: TftpOptions };

export type ParseErrorKind =
  | 'too-short'
  | 'unknown-opcode'
  | 'unterminated-string'
  | 'empty-filename'
  | 'bad-mode'
  | 'odd-options'
  | 'bad-length';

export class TftpParseError extends Error {
  constructor(readonly kind: ParseErrorKind, detail: string) {
    super(`${kind}: ${detail}`);
    this.name = 'TftpParseError';
  }
}

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; error: TftpParseError };

const MODES = new Set(['netascii', 'octet', 'mail']);

function fail(kind: ParseErrorKind, detail: string): DecodeResult {
  return { ok: false, error: new TftpParseError(kind, detail) };
}

/** Splits NUL-terminated strings from `start`; undefined when the last one has no NUL. */
function splitStrings(buf: Uint8Array, start: number): string[] | undefined {
  const out: string[] = [];
  let i = start;
  while (i < buf.length) {
    const end = buf.indexOf(0, i);
    if (end < 0) return undefined;
    out.push(Buffer.from(buf.buffer, buf.byteOffset + i, end - i).toString('latin1'));
    i = end + 1;
  }
  return out;
}

/** RFC 2347: option/value pairs after the mode; trailing NUL padding (some PXE ROMs send it) is not an option. */
function pairOptions(strings: string[]): TftpOptions | undefined {
  let n = strings.length;
  while (n > 0 && strings[n - 1] === '') n--;
  if (n % 2 !== 0) return undefined;
  const opts: TftpOptions = [];
  for (let i = 0; i < n; i += 2) opts.push([strings[i]!.toLowerCase(), strings[i + 1]!]);
  return opts;
}

export function decodePacket(buf: Uint8Array): DecodeResult {
  if (buf.length < 4) return fail('too-short', `${buf.length} bytes`);
  const op = (buf[0]! << 8) | buf[1]!;
  switch (op) {
    case OP.RRQ:
    case OP.WRQ: {
      // RFC 1350 §5: | opcode | filename | 0 | mode | 0 | (RFC 2347: opt | 0 | value | 0)*
      const strings = splitStrings(buf, 2);
      if (!strings || strings.length < 2) return fail('unterminated-string', 'request needs filename and mode');
      const [filename, rawMode] = strings as [string, string];
      if (filename === '') return fail('empty-filename', 'zero-length filename');
      const mode = rawMode.toLowerCase();
      if (!MODES.has(mode)) return fail('bad-mode', JSON.stringify(rawMode.slice(0, 32)));
      const options = pairOptions(strings.slice(2));
      if (!options) return fail('odd-options', 'an option has no value');
      return { ok: true, packet: { op: op === OP.RRQ ? 'RRQ' : 'WRQ', filename, mode, options } };
    }
    case OP.DATA: {
      // RFC 1350 §5 / RFC 2348: | 3 | block | 0..blksize bytes |
      if (buf.length - 4 > MAX_BLKSIZE) return fail('bad-length', `${buf.length - 4} data bytes`);
      return { ok: true, packet: { op: 'DATA', block: (buf[2]! << 8) | buf[3]!, data: buf.subarray(4) } };
    }
    case OP.ACK: {
      if (buf.length !== 4) return fail('bad-length', `ACK of ${buf.length} bytes`);
      return { ok: true, packet: { op: 'ACK', block: (buf[2]! << 8) | buf[3]! } };
    }
    case OP.ERROR: {
      // | 5 | code | message | 0 |; a missing final NUL is tolerated: the message is only for logs.
      const end = buf.indexOf(0, 4);
      const message = Buffer.from(buf.buffer, buf.byteOffset + 4, (end < 0 ? buf.length : end) - 4).toString('latin1');
      return { ok: true, packet: { op: 'ERROR', code: (buf[2]! << 8) | buf[3]!, message } };
    }
    case OP.OACK: {
      // RFC 2347: | 6 | opt1 | 0 | value1 | 0 | ...
      const strings = splitStrings(buf, 2);
      if (!strings) return fail('unterminated-string', 'OACK option');
      const options = pairOptions(strings);
      if (!options) return fail('odd-options', 'an option has no value');
      return { ok: true, packet: { op: 'OACK', options } };
    }
    default:
      return fail('unknown-opcode', String(op));
  }
}

function header(op: number, second: number, extra: number): Buffer {
  const b = Buffer.allocUnsafe(4 + extra);
  b[0] = 0;
  b[1] = op;
  b.writeUInt16BE(second & 0xffff, 2);
  return b;
}

function strings(list: string[]): Buffer {
  return Buffer.concat(list.map((s) => Buffer.from(`${s}\0`, 'latin1')));
}

export function encodeRequest(op: 'RRQ' | 'WRQ', filename: string, mode: string, options: TftpOptions = []): Buffer {
  return Buffer.concat([Buffer.from([0, OP[op]]), strings([filename, mode, ...options.flat()])]);
}

/** `block` is taken modulo 65536: the wire number rolls over past 65535 (to 0, as curl, iPXE and tftp-hpa expect). */
export function encodeData(block: number, data: Uint8Array): Buffer {
  const b = header(OP.DATA, block, data.length);
  b.set(data, 4);
  return b;
}

export function encodeAck(block: number): Buffer {
  return header(OP.ACK, block, 0);
}

export function encodeError(code: number, message: string): Buffer {
  return Buffer.concat([header(OP.ERROR, code, 0), strings([message])]);
}

export function encodeOack(options: TftpOptions): Buffer {
  return Buffer.concat([Buffer.from([0, OP.OACK]), strings(options.flat())]);
}

/**
 * RFC 1350 mode "netascii" (RFC 764): line ends go out as CR LF and a bare
 * CR as CR NUL. The size changes, so tsize must be taken from the result.
 */
export function toNetascii(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d) extra++;
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x0a) (out[j++] = 0x0d, out[j++] = 0x0a);
    else if (c === 0x0d) (out[j++] = 0x0d, out[j++] = 0x00);
    else out[j++] = c;
  }
  return out;
}
