// DHCPv6 option values: RFC 8415 §21 (the options a netboot server needs),
// RFC 3646 §3 (23 DNS servers), RFC 5970 §3 (59 boot file URL, 60 boot file
// parameters, 61 client architecture, 62 network interface identifier) and
// RFC 6939 §4 (79 client link-layer address, added by relays). Pure
// functions over bytes; options we do not know stay raw in the message.
import { macText } from '../inventory/mac.js';
import { ipv6Bytes, ipv6Text } from './ipv6.js';

export const Opt6 = {
  CLIENTID: 1, SERVERID: 2, IA_NA: 3, IAADDR: 5, ORO: 6, PREFERENCE: 7, ELAPSED_TIME: 8,
  RELAY_MSG: 9, STATUS_CODE: 13, RAPID_COMMIT: 14, USER_CLASS: 15, VENDOR_CLASS: 16,
  INTERFACE_ID: 18, DNS_SERVERS: 23, BOOTFILE_URL: 59, BOOTFILE_PARAM: 60, CLIENT_ARCH_TYPE: 61,
  NII: 62, CLIENT_LINKLAYER_ADDR: 79,
} as const;

/** RFC 8415 §21.13 status codes. */
export const Status6 = { Success: 0, UnspecFail: 1, NoAddrsAvail: 2, NoBinding: 3, NotOnLink: 4, UseMulticast: 5 } as const;

/** RFC 8415 §11.1: DUID types (§11.2 LLT, §11.3 EN, §11.4 LL) and RFC 6355 §4 (UUID). */
export const DuidType = { LLT: 1, EN: 2, LL: 3, UUID: 4 } as const;

export interface Duid {
  type: number;
  /** The whole DUID as sent, type included: what identifies a client (RFC 8415 §11: compared as opaque bytes). */
  raw: Buffer;
  /** LLT and LL with hardware type 1 (Ethernet, RFC 826): the link-layer address as `aa:bb:..`. */
  mac?: string;
}

export interface IaAddress { address: string; preferred: number; valid: number; status?: StatusCode }
export interface IaNa { iaid: number; t1: number; t2: number; addresses: IaAddress[]; status?: StatusCode }
export interface StatusCode { code: number; message: string }

export interface Dhcpv6Options {
  clientId?: Duid;
  serverId?: Duid;
  iaNa: IaNa[];
  oro?: number[];
  preference?: number;
  /** RFC 8415 §21.9: hundredths of a second since the client began this exchange. */
  elapsed?: number;
  relayMessage?: Buffer;
  status?: StatusCode;
  rapidCommit: boolean;
  userClass?: string[];
  vendorClass: { enterprise: number; data: string[] }[];
  interfaceId?: Buffer;
  dnsServers?: string[];
  bootFileUrl?: string;
  bootFileParams?: string[];
  clientArch?: number[];
  nii?: { type: number; major: number; minor: number };
  clientLinkLayer?: { hwtype: number; address: string };
}

export type OptionList = Array<[number, Buffer]>;
/** `overrun`: the option area itself does not parse (as opposed to one option's value). */
export type OptionsResult = { ok: true; options: Dhcpv6Options; raw: OptionList } | { ok: false; error: string; overrun?: true };

/** RFC 8415 §21.1: code (2 octets), length (2 octets), then that many octets; options fill the area exactly. */
export function walkOptions(b: Buffer, where: string): OptionList | string {
  const out: OptionList = [];
  let i = 0;
  while (i < b.length) {
    if (i + 4 > b.length) return `${where}: ${b.length - i} trailing bytes, an option header needs 4`;
    const code = b.readUInt16BE(i);
    const len = b.readUInt16BE(i + 2);
    if (i + 4 + len > b.length) return `${where}: option ${code} claims ${len} bytes, ${b.length - i - 4} left`;
    out.push([code, b.subarray(i + 4, i + 4 + len)]);
    i += 4 + len;
  }
  return out;
}

/** RFC 8415 §11.1: a type code and at most 130 octets; each type's fixed part must be there. */
export function decodeDuid(b: Buffer): Duid | string {
  if (b.length < 3) return `DUID of ${b.length} bytes`;
  if (b.length > 132) return `DUID of ${b.length} bytes, longer than 2 + 130 (RFC 8415 §11.1)`;
  const type = b.readUInt16BE(0);
  const raw = Buffer.from(b);
  const ether = (hw: number, addr: Buffer) => (hw === 1 && addr.length === 6 ? macText(addr) : undefined);
  switch (type) {
    case DuidType.LLT: // §11.2: type, hardware type, time, link-layer address
      if (b.length < 8) return 'DUID-LLT shorter than its 8-byte header';
      return { type, raw, mac: ether(b.readUInt16BE(2), b.subarray(8)) };
    case DuidType.LL: // §11.4: type, hardware type, link-layer address
      if (b.length < 4) return 'DUID-LL shorter than its 4-byte header';
      return { type, raw, mac: ether(b.readUInt16BE(2), b.subarray(4)) };
    case DuidType.EN: // §11.3: type, enterprise number, identifier
      if (b.length < 7) return 'DUID-EN without an identifier';
      return { type, raw };
    case DuidType.UUID: // RFC 6355 §4: type, 16-octet UUID
      if (b.length !== 18) return `DUID-UUID of ${b.length} bytes, must be 18`;
      return { type, raw };
    default: // §11.1: "clients and servers MUST treat DUIDs as opaque values"
      return { type, raw };
  }
}

/** RFC 8415 §21.13: status code, then a UTF-8 message. */
function decodeStatus(b: Buffer): StatusCode | string {
  if (b.length < 2) return 'status code shorter than 2 bytes';
  return { code: b.readUInt16BE(0), message: b.subarray(2).toString('utf8') };
}

/** RFC 8415 §21.16 / RFC 5970 §3.2: a list of (2-octet length, data). */
function lengthPrefixed(b: Buffer, what: string): string[] | { error: string } {
  const out: string[] = [];
  for (let i = 0; i < b.length;) {
    if (i + 2 > b.length) return { error: `${what}: a length needs 2 bytes` };
    const n = b.readUInt16BE(i);
    if (i + 2 + n > b.length) return { error: `${what}: an entry claims ${n} bytes` };
    out.push(b.subarray(i + 2, i + 2 + n).toString('latin1'));
    i += 2 + n;
  }
  return out;
}

function u16List(b: Buffer, what: string): number[] | string {
  if (b.length % 2 !== 0) return `${what} length ${b.length} is odd`;
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

/** RFC 8415 §21.6: IAADDR = address (16), preferred (4), valid (4), options. */
function decodeIaAddr(b: Buffer): IaAddress | string {
  if (b.length < 24) return `IAADDR of ${b.length} bytes, need 24`;
  const inner = walkOptions(b.subarray(24), 'IAADDR options');
  if (typeof inner === 'string') return inner;
  const st = inner.find(([c]) => c === Opt6.STATUS_CODE);
  const status = st ? decodeStatus(st[1]) : undefined;
  if (typeof status === 'string') return status;
  return { address: ipv6Text(b), preferred: b.readUInt32BE(16), valid: b.readUInt32BE(20), ...(status ? { status } : {}) };
}

/** RFC 8415 §21.4: IA_NA = IAID (4), T1 (4), T2 (4), options (IAADDR, status code). */
function decodeIaNa(b: Buffer): IaNa | string {
  if (b.length < 12) return `IA_NA of ${b.length} bytes, need 12`;
  const inner = walkOptions(b.subarray(12), 'IA_NA options');
  if (typeof inner === 'string') return inner;
  const addresses: IaAddress[] = [];
  let status: StatusCode | undefined;
  for (const [code, value] of inner) {
    if (code === Opt6.IAADDR) {
      const a = decodeIaAddr(value);
      if (typeof a === 'string') return a;
      addresses.push(a);
    } else if (code === Opt6.STATUS_CODE) {
      const s = decodeStatus(value);
      if (typeof s === 'string') return s;
      status = s;
    }
  }
  return { iaid: b.readUInt32BE(0), t1: b.readUInt32BE(4), t2: b.readUInt32BE(8), addresses, ...(status ? { status } : {}) };
}

/**
 * RFC 8415 §21.1: "Unless otherwise noted, each option may appear only in
 * the options area of a DHCP message and may appear only once." IA_NA (one
 * per IAID) and Vendor Class (one per enterprise) are the exceptions here.
 */
const REPEATABLE = new Set<number>([Opt6.IA_NA, Opt6.VENDOR_CLASS]);

export function decodeOptions(area: Buffer): OptionsResult {
  const raw = walkOptions(area, 'options');
  if (typeof raw === 'string') return { ok: false, error: raw, overrun: true };
  const o: Dhcpv6Options = { iaNa: [], vendorClass: [], rapidCommit: false };
  const seen = new Set<number>();
  const bad = (e: string): OptionsResult => ({ ok: false, error: e });
  for (const [code, v] of raw) {
    if (seen.has(code) && !REPEATABLE.has(code)) return bad(`option ${code} appears more than once (RFC 8415 §21.1)`);
    seen.add(code);
    switch (code) {
      case Opt6.CLIENTID: case Opt6.SERVERID: {
        const d = decodeDuid(v);
        if (typeof d === 'string') return bad(`option ${code}: ${d}`);
        if (code === Opt6.CLIENTID) o.clientId = d; else o.serverId = d;
        break;
      }
      case Opt6.IA_NA: {
        const ia = decodeIaNa(v);
        if (typeof ia === 'string') return bad(ia);
        o.iaNa.push(ia);
        break;
      }
      case Opt6.ORO: case Opt6.CLIENT_ARCH_TYPE: {
        const list = u16List(v, code === Opt6.ORO ? 'ORO' : 'client architecture');
        if (typeof list === 'string') return bad(list);
        if (code === Opt6.ORO) o.oro = list; else o.clientArch = list;
        break;
      }
      case Opt6.PREFERENCE:
        if (v.length !== 1) return bad('preference must be 1 byte (RFC 8415 §21.8)');
        o.preference = v[0]!;
        break;
      case Opt6.ELAPSED_TIME:
        if (v.length !== 2) return bad('elapsed time must be 2 bytes (RFC 8415 §21.9)');
        o.elapsed = v.readUInt16BE(0);
        break;
      case Opt6.RELAY_MSG: o.relayMessage = v; break;
      case Opt6.STATUS_CODE: {
        const s = decodeStatus(v);
        if (typeof s === 'string') return bad(s);
        o.status = s;
        break;
      }
      case Opt6.RAPID_COMMIT:
        if (v.length !== 0) return bad('rapid commit carries no data (RFC 8415 §21.14)');
        o.rapidCommit = true;
        break;
      case Opt6.USER_CLASS: case Opt6.BOOTFILE_PARAM: {
        const list = lengthPrefixed(v, code === Opt6.USER_CLASS ? 'user class' : 'boot file parameters');
        if (!Array.isArray(list)) return bad(list.error);
        if (code === Opt6.USER_CLASS) o.userClass = list; else o.bootFileParams = list;
        break;
      }
      case Opt6.VENDOR_CLASS: { // §21.16: enterprise number, then length-prefixed data
        if (v.length < 4) return bad('vendor class shorter than its enterprise number');
        const data = lengthPrefixed(v.subarray(4), 'vendor class');
        if (!Array.isArray(data)) return bad(data.error);
        o.vendorClass.push({ enterprise: v.readUInt32BE(0), data });
        break;
      }
      case Opt6.INTERFACE_ID: o.interfaceId = v; break;
      case Opt6.DNS_SERVERS: {
        if (v.length % 16 !== 0) return bad('DNS servers length not a multiple of 16 (RFC 3646 §3)');
        o.dnsServers = [];
        for (let i = 0; i < v.length; i += 16) o.dnsServers.push(ipv6Text(v, i));
        break;
      }
      case Opt6.BOOTFILE_URL: o.bootFileUrl = v.toString('utf8'); break;
      case Opt6.NII:
        if (v.length !== 3) return bad('network interface identifier must be 3 bytes (RFC 5970 §3.4)');
        o.nii = { type: v[0]!, major: v[1]!, minor: v[2]! };
        break;
      case Opt6.CLIENT_LINKLAYER_ADDR: // RFC 6939 §4: link-layer type (2), then the address
        if (v.length < 3) return bad('client link-layer address without an address');
        o.clientLinkLayer = { hwtype: v.readUInt16BE(0), address: macText(v.subarray(2)) };
        break;
    }
  }
  return { ok: true, options: o, raw };
}

// ---- encoders: each returns one option's value, to pair with its code ----

export function optionBytes(options: OptionList): Buffer {
  return Buffer.concat(options.map(([code, value]) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(code, 0);
    h.writeUInt16BE(value.length, 2);
    return Buffer.concat([h, value]);
  }));
}

/** RFC 8415 §11.4: DUID-LL over Ethernet from a MAC `aa:bb:..`. */
export function duidLl(mac: string): Buffer {
  return Buffer.concat([Buffer.from([0, DuidType.LL, 0, 1]), Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))]);
}

export function statusValue(code: number, message: string): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return Buffer.concat([b, Buffer.from(message, 'utf8')]);
}

export function iaAddrValue(a: { address: string; preferred: number; valid: number }, options: OptionList = []): Buffer {
  const b = Buffer.alloc(24);
  const addr = ipv6Bytes(a.address);
  if (!addr) throw new Error(`not an IPv6 address: ${a.address}`);
  addr.copy(b, 0);
  b.writeUInt32BE(a.preferred >>> 0, 16);
  b.writeUInt32BE(a.valid >>> 0, 20);
  return Buffer.concat([b, optionBytes(options)]);
}

export function iaNaValue(ia: { iaid: number; t1: number; t2: number }, options: OptionList): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(ia.iaid >>> 0, 0);
  b.writeUInt32BE(ia.t1 >>> 0, 4);
  b.writeUInt32BE(ia.t2 >>> 0, 8);
  return Buffer.concat([b, optionBytes(options)]);
}

export function u16ListValue(list: number[]): Buffer {
  const b = Buffer.alloc(list.length * 2);
  list.forEach((x, i) => b.writeUInt16BE(x, i * 2));
  return b;
}

export function lengthPrefixedValue(items: string[]): Buffer {
  return Buffer.concat(items.map((s) => {
    const d = Buffer.from(s, 'latin1');
    const h = Buffer.alloc(2);
    h.writeUInt16BE(d.length, 0);
    return Buffer.concat([h, d]);
  }));
}

export function vendorClassValue(enterprise: number, data: string[]): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(enterprise >>> 0, 0);
  return Buffer.concat([h, lengthPrefixedValue(data)]);
}

export function addressListValue(addresses: string[]): Buffer {
  return Buffer.concat(addresses.map((a) => {
    const b = ipv6Bytes(a);
    if (!b) throw new Error(`not an IPv6 address: ${a}`);
    return b;
  }));
}
