// DHCPv4 wire format: pure functions over bytes, no I/O and no policy.
// RFC 2131 §2 (the BOOTP header, magic cookie), RFC 2132 §9.3 (option 52
// overload of `file`/`sname`), RFC 3396 (long options split into several
// instances and concatenated on receipt). Option values are decoded into
// typed fields by options.ts; this module only finds them.
import { macText } from '../inventory/mac.js';
import { decodeOptions, type DhcpOptions } from './options.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** op..file (RFC 2131 §2, figure 1) plus the 4-byte magic cookie. */
export const FIXED_LEN = 236;
export const OPTIONS_OFFSET = FIXED_LEN + 4;
/** RFC 951: BOOTP messages are at least 300 octets; old relays and ROMs expect it. */
export const MIN_PACKET_LEN = 300;
/** RFC 2131 §2: a client must accept 576-octet IP datagrams, i.e. 548 octets of DHCP. */
export const DEFAULT_MAX_MESSAGE = 548;
const SNAME_OFFSET = 44;
const FILE_OFFSET = 108;

export const MessageType = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;
export const MESSAGE_NAMES: Record<number, string> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};

export interface DhcpHeader {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-byte chaddr field as sent; `mac` is its first hlen bytes. */
  chaddr: Buffer;
  sname: string;
  file: string;
}

export interface DhcpPacket extends DhcpHeader {
  /** `aa:bb:cc:dd:ee:ff` for Ethernet, hex bytes joined by ':' otherwise. */
  mac: string;
  /** Raw option values, each already concatenated across instances and regions (RFC 3396 §4). */
  raw: Map<number, Buffer>;
  options: DhcpOptions;
}

export type ParseErrorKind =
  | 'too-short' // shorter than the fixed header plus cookie
  | 'bad-op' // op is neither BOOTREQUEST nor BOOTREPLY
  | 'bad-hlen' // hardware address longer than chaddr
  | 'bad-cookie' // not a DHCP packet (plain BOOTP or garbage)
  | 'option-overrun' // an option's length runs past its region
  | 'bad-overload' // option 52 malformed, or present outside the options field
  | 'bad-option'; // a known option whose value has the wrong shape

export interface ParseError {
  kind: ParseErrorKind;
  detail: string;
}

export type ParseResult = { ok: true; packet: DhcpPacket } | { ok: false; error: ParseError };

const err = (kind: ParseErrorKind, detail: string): ParseResult => ({ ok: false, error: { kind, detail } });

export function ipFrom(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

export function ipTo(buf: Buffer, at: number, ip: string): void {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) buf[at + i] = Number(parts[i]) & 0xff;
}

/** A NUL-terminated header string field (sname, file). */
function cstring(buf: Buffer, at: number, len: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end === -1 || end > at + len ? at + len : end);
}

type Chunks = Map<number, Buffer[]>;

/** Walks one option region (RFC 2132 §2). Returns an error string or undefined. */
function scanRegion(buf: Buffer, start: number, end: number, into: Chunks, region: string): string | undefined {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255) return undefined;
    if (i + 1 >= end) return `option ${code} in ${region} has no length byte`;
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return `option ${code} in ${region} claims ${len} bytes, ${end - i - 2} left`;
    const list = into.get(code);
    const value = buf.subarray(i + 2, i + 2 + len);
    if (list) list.push(value); else into.set(code, [value]);
    i += 2 + len;
  }
  // Running into the end of the region without option 255 is tolerated: the
  // region's bounds are known, and some ROMs pad with zeros instead.
  return undefined;
}

/** Parses one UDP payload. Never throws: every malformed input is a typed error. */
export function parseDhcp(buf: Buffer): ParseResult {
  try {
    return parseUnchecked(buf);
  } catch (e) {
    // Defence in depth: a bug here must cost a packet, not the daemon.
    return err('bad-option', `internal decoder error: ${(e as Error).message}`);
  }
}

function parseUnchecked(buf: Buffer): ParseResult {
  if (buf.length < OPTIONS_OFFSET) return err('too-short', `${buf.length} bytes, need at least ${OPTIONS_OFFSET}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return err('bad-op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) return err('bad-hlen', `hlen ${hlen} > 16`);
  if (buf.readUInt32BE(FIXED_LEN) !== MAGIC_COOKIE) return err('bad-cookie', `cookie 0x${buf.readUInt32BE(FIXED_LEN).toString(16)}`);

  const chunks: Chunks = new Map();
  const problem = scanRegion(buf, OPTIONS_OFFSET, buf.length, chunks, 'options');
  if (problem) return err('option-overrun', problem);

  // RFC 2132 §9.3: option 52 lives in the options field only; its value says
  // whether `file` (1), `sname` (2) or both (3) carry more options, which
  // come after the options field in that order (RFC 3396 §4).
  let overload = 0;
  const ov = chunks.get(52);
  if (ov) {
    if (ov.length !== 1 || ov[0]!.length !== 1 || ov[0]![0]! < 1 || ov[0]![0]! > 3) return err('bad-overload', 'option 52 must be one byte, 1..3');
    overload = ov[0]![0]!;
  }
  if (overload & 1) {
    const p = scanRegion(buf, FILE_OFFSET, FILE_OFFSET + 128, chunks, 'file');
    if (p) return err('option-overrun', p);
  }
  if (overload & 2) {
    const p = scanRegion(buf, SNAME_OFFSET, SNAME_OFFSET + 64, chunks, 'sname');
    if (p) return err('option-overrun', p);
  }
  if (overload && chunks.get(52)!.length !== 1) return err('bad-overload', 'option 52 inside an overloaded field');

  const raw = new Map<number, Buffer>();
  for (const [code, parts] of chunks) raw.set(code, parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  const decoded = decodeOptions(raw);
  if (!decoded.ok) return err('bad-option', decoded.error);

  const chaddr = Buffer.from(buf.subarray(28, 44));
  const packet: DhcpPacket = {
    op, htype: buf[1]!, hlen, hops: buf[3]!, xid: buf.readUInt32BE(4), secs: buf.readUInt16BE(8), flags: buf.readUInt16BE(10),
    ciaddr: ipFrom(buf, 12), yiaddr: ipFrom(buf, 16), siaddr: ipFrom(buf, 20), giaddr: ipFrom(buf, 24), chaddr,
    sname: overload & 2 ? '' : cstring(buf, SNAME_OFFSET, 64),
    file: overload & 1 ? '' : cstring(buf, FILE_OFFSET, 128),
    mac: macText(chaddr.subarray(0, hlen)),
    raw, options: decoded.options,
  };
  return { ok: true, packet };
}

export interface OutgoingPacket {
  op: number;
  htype?: number;
  hlen?: number;
  hops?: number;
  xid: number;
  secs?: number;
  flags: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  chaddr: Buffer;
  sname?: string;
  file?: string;
  /** In wire order. Values longer than 255 bytes are split (RFC 3396 §5). */
  options: Array<[number, Buffer]>;
}

export type EncodeResult = { ok: true; bytes: Buffer } | { ok: false; error: string };

function tlvs(options: Array<[number, Buffer]>): Buffer[] {
  const out: Buffer[] = [];
  for (const [code, value] of options) {
    if (value.length === 0) { out.push(Buffer.from([code, 0])); continue; }
    for (let i = 0; i < value.length; i += 255) {
      const part = value.subarray(i, i + 255);
      out.push(Buffer.concat([Buffer.from([code, part.length]), part]));
    }
  }
  return out;
}

/**
 * Builds a packet no larger than `maxSize` octets of DHCP payload (the
 * client's option 57, RFC 2132 §9.10). When the options don't fit, and the
 * reply leaves `file`/`sname` empty, those fields carry the rest under
 * option 52 (RFC 2132 §9.3); otherwise the reply is refused, never cut.
 */
export function encodeDhcp(p: OutgoingPacket, maxSize = DEFAULT_MAX_MESSAGE): EncodeResult {
  const limit = Math.max(DEFAULT_MAX_MESSAGE, maxSize);
  const sname = Buffer.from(p.sname ?? '', 'latin1');
  const file = Buffer.from(p.file ?? '', 'latin1');
  if (sname.length > 63) return { ok: false, error: 'sname longer than 63 bytes' };
  if (file.length > 127) return { ok: false, error: 'file longer than 127 bytes' };

  const items = tlvs(p.options);
  const total = items.reduce((n, b) => n + b.length, 0);
  const regions: { at: number; size: number; items: Buffer[] }[] = [];
  if (OPTIONS_OFFSET + total + 1 <= limit) {
    regions.push({ at: OPTIONS_OFFSET, size: total + 1, items });
  } else {
    const canFile = file.length === 0;
    const canSname = sname.length === 0;
    if (!canFile && !canSname) return { ok: false, error: `options need ${total} bytes, ${limit - OPTIONS_OFFSET - 1} fit` };
    const main = { at: OPTIONS_OFFSET, size: limit - OPTIONS_OFFSET, items: [] as Buffer[] };
    const extra = [
      ...(canFile ? [{ at: FILE_OFFSET, size: 128, items: [] as Buffer[], bit: 1 }] : []),
      ...(canSname ? [{ at: SNAME_OFFSET, size: 64, items: [] as Buffer[], bit: 2 }] : []),
    ];
    const all = [main, ...extra];
    const used = all.map(() => 0);
    used[0] = 3; // option 52 itself
    // Parts of one split option must stay in order across regions (RFC 3396 §4).
    const earliest = new Map<number, number>();
    for (const item of items) {
      const from = earliest.get(item[0]!) ?? 0;
      const r = all.findIndex((reg, k) => k >= from && used[k]! + item.length + 1 <= reg.size);
      if (r === -1) return { ok: false, error: `options need ${total} bytes; they do not fit even with option 52` };
      all[r]!.items.push(item);
      used[r]! += item.length;
      earliest.set(item[0]!, r);
    }
    const bits = extra.reduce((b, reg, k) => (reg.items.length ? b | reg.bit : b), 0);
    if (bits) main.items.unshift(Buffer.from([52, 1, bits]));
    main.size = main.items.reduce((n, b) => n + b.length, 0) + 1;
    regions.push(main, ...extra.filter((r) => r.items.length));
  }

  const mainLen = OPTIONS_OFFSET + regions[0]!.size;
  const out = Buffer.alloc(Math.max(MIN_PACKET_LEN, mainLen));
  out[0] = p.op;
  out[1] = p.htype ?? 1;
  out[2] = p.hlen ?? 6;
  out[3] = p.hops ?? 0;
  out.writeUInt32BE(p.xid >>> 0, 4);
  out.writeUInt16BE(p.secs ?? 0, 8);
  out.writeUInt16BE(p.flags & 0xffff, 10);
  ipTo(out, 12, p.ciaddr ?? '0.0.0.0');
  ipTo(out, 16, p.yiaddr ?? '0.0.0.0');
  ipTo(out, 20, p.siaddr ?? '0.0.0.0');
  ipTo(out, 24, p.giaddr ?? '0.0.0.0');
  p.chaddr.copy(out, 28, 0, Math.min(16, p.chaddr.length));
  sname.copy(out, SNAME_OFFSET);
  file.copy(out, FILE_OFFSET);
  out.writeUInt32BE(MAGIC_COOKIE, FIXED_LEN);
  for (const reg of regions) {
    let at = reg.at;
    for (const item of reg.items) at += item.copy(out, at);
    out[at] = 255;
  }
  return { ok: true, bytes: out };
}
