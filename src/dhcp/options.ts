// Typed DHCP option values: RFC 2132 (basic options), RFC 3004 (77 user
// class), RFC 3046 (82 relay agent information), RFC 4578 (93 client system
// architecture, 94 network interface identifier, 97 machine identifier),
// PXE 2.1 §2.4 (43 PXE vendor options) and iPXE's encapsulated option 175.
// Options we don't know stay as raw bytes in DhcpPacket.raw.

export const Opt = {
  SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN_NAME: 15, BROADCAST: 28,
  VENDOR_SPECIFIC: 43, REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53,
  SERVER_ID: 54, PARAMETER_LIST: 55, MESSAGE: 56, MAX_MESSAGE_SIZE: 57, RENEWAL_TIME: 58,
  REBINDING_TIME: 59, VENDOR_CLASS: 60, CLIENT_ID: 61, TFTP_SERVER: 66, BOOTFILE: 67,
  USER_CLASS: 77, RELAY_AGENT: 82, CLIENT_ARCH: 93, CLIENT_NDI: 94, CLIENT_UUID: 97, IPXE: 175,
} as const;

/** iPXE encapsulated option 175, sub-option 176: skip waiting for ProxyDHCP offers. */
export const IPXE_NO_PXEDHCP = 176;
/** PXE option 43 sub-option 6 (PXE_DISCOVERY_CONTROL). */
export const PXE_DISCOVERY_CONTROL = 6;

export interface DhcpOptions {
  messageType?: number;
  subnetMask?: string;
  routers?: string[];
  dns?: string[];
  hostname?: string;
  domainName?: string;
  broadcast?: string;
  requestedIp?: string;
  leaseTime?: number;
  serverId?: string;
  parameterList?: number[];
  maxMessageSize?: number;
  vendorClass?: string;
  clientId?: Buffer;
  tftpServer?: string;
  bootfile?: string;
  /** RFC 3004 list; iPXE sends one bare string (`iPXE`), which lands here as one entry. */
  userClass?: string[];
  relayAgent?: { raw: Buffer; circuitId?: Buffer; remoteId?: Buffer };
  clientArch?: number[];
  clientNdi?: { type: number; major: number; minor: number };
  /** RFC 4578 §2.3, type 0: the SMBIOS UUID, rendered in its canonical text form. */
  clientUuid?: { type: number; uuid: string };
  /** Option 43 read as PXE sub-options, when the client is a PXE client and they parse. */
  pxe?: Map<number, Buffer>;
  /** Option 175 sub-options. */
  ipxe?: Map<number, Buffer>;
}

export type DecodeResult = { ok: true; options: DhcpOptions } | { ok: false; error: string };

const ip = (b: Buffer, at = 0) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

function ipList(code: number, b: Buffer): string[] | string {
  if (b.length === 0 || b.length % 4 !== 0) return `option ${code} length ${b.length} is not a multiple of 4`;
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(ip(b, i));
  return out;
}

/** Sub-options in code/length/value form, as used by 43, 82 and 175. Undefined if they don't parse. */
export function parseSubOptions(b: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < b.length) {
    const code = b[i]!;
    if (code === 0) { i++; continue; }
    if (code === 255) break;
    if (i + 1 >= b.length) return undefined;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return undefined;
    out.set(code, b.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

/** RFC 3004 §4: a list of length-prefixed class names; anything else is one opaque class. */
function userClasses(b: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i]!;
    if (len === 0 || i + 1 + len > b.length) return [b.toString('latin1')];
    out.push(b.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return out;
}

/** RFC 4578 §2.3 with the SMBIOS byte order CLIENTS.md measured: the first three fields are little-endian. */
export function uuidFromWire(b: Buffer): string {
  const hex = (x: Buffer) => x.toString('hex');
  const le = (x: Buffer) => hex(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

/**
 * A text option's value. RFC 2132 §2: "Options containing NVT ASCII data
 * SHOULD NOT include a trailing NULL; however, the receiver of such options
 * MUST be prepared to delete trailing nulls if they exist." Some firmware
 * sends them (a host name of "node1\0").
 */
const text = (v: Buffer): string => v.toString('latin1').replace(/\0+$/, '');

export function decodeOptions(raw: Map<number, Buffer>): DecodeResult {
  const o: DhcpOptions = {};
  const fail = (error: string): DecodeResult => ({ ok: false, error });
  for (const [code, v] of raw) {
    switch (code) {
      case Opt.MESSAGE_TYPE:
        if (v.length !== 1 || v[0]! < 1 || v[0]! > 18) return fail(`option 53 must be one byte 1..18, got ${v.toString('hex')}`);
        o.messageType = v[0]!;
        break;
      case Opt.SUBNET_MASK: case Opt.BROADCAST: case Opt.REQUESTED_IP: case Opt.SERVER_ID: {
        if (v.length !== 4) return fail(`option ${code} must be 4 bytes, got ${v.length}`);
        const a = ip(v);
        if (code === Opt.SUBNET_MASK) o.subnetMask = a;
        else if (code === Opt.BROADCAST) o.broadcast = a;
        else if (code === Opt.REQUESTED_IP) o.requestedIp = a;
        else o.serverId = a;
        break;
      }
      case Opt.ROUTER: case Opt.DNS: {
        const list = ipList(code, v);
        if (typeof list === 'string') return fail(list);
        if (code === Opt.ROUTER) o.routers = list; else o.dns = list;
        break;
      }
      case Opt.HOSTNAME: o.hostname = text(v); break;
      case Opt.DOMAIN_NAME: o.domainName = text(v); break;
      case Opt.VENDOR_CLASS: o.vendorClass = text(v); break;
      case Opt.TFTP_SERVER: o.tftpServer = text(v); break;
      case Opt.BOOTFILE: o.bootfile = text(v); break;
      case Opt.CLIENT_ID:
        if (v.length < 2) return fail(`option 61 needs at least 2 bytes, got ${v.length}`);
        o.clientId = Buffer.from(v);
        break;
      case Opt.LEASE_TIME:
        if (v.length !== 4) return fail(`option 51 must be 4 bytes, got ${v.length}`);
        o.leaseTime = v.readUInt32BE(0);
        break;
      case Opt.MAX_MESSAGE_SIZE:
        if (v.length !== 2) return fail(`option 57 must be 2 bytes, got ${v.length}`);
        // RFC 2132 §9.10: the minimum legal value is 576; smaller is ignored, not fatal.
        if (v.readUInt16BE(0) >= 576) o.maxMessageSize = v.readUInt16BE(0);
        break;
      case Opt.PARAMETER_LIST: o.parameterList = [...v]; break;
      case Opt.USER_CLASS: o.userClass = userClasses(v); break;
      case Opt.RELAY_AGENT: {
        const subs = parseSubOptions(v);
        o.relayAgent = { raw: Buffer.from(v), circuitId: subs?.get(1), remoteId: subs?.get(2) };
        break;
      }
      case Opt.CLIENT_ARCH:
        if (v.length === 0 || v.length % 2 !== 0) return fail(`option 93 length ${v.length} is not a positive multiple of 2`);
        o.clientArch = [];
        for (let i = 0; i < v.length; i += 2) o.clientArch.push(v.readUInt16BE(i));
        break;
      case Opt.CLIENT_NDI:
        if (v.length !== 3) return fail(`option 94 must be 3 bytes, got ${v.length}`);
        o.clientNdi = { type: v[0]!, major: v[1]!, minor: v[2]! };
        break;
      case Opt.CLIENT_UUID:
        if (v.length !== 17) return fail(`option 97 must be 17 bytes, got ${v.length}`);
        o.clientUuid = { type: v[0]!, uuid: uuidFromWire(v.subarray(1)) };
        break;
      case Opt.IPXE: o.ipxe = parseSubOptions(v); break;
      default: break;
    }
  }
  const vendor = raw.get(Opt.VENDOR_SPECIFIC);
  if (vendor && /^(PXEClient|HTTPClient)/.test(o.vendorClass ?? '')) o.pxe = parseSubOptions(vendor);
  return { ok: true, options: o };
}

// Encoders for the values a server sends.
export const enc = {
  ip: (a: string) => Buffer.from(a.split('.').map(Number)),
  ips: (list: string[]) => Buffer.concat(list.map(enc.ip)),
  u8: (n: number) => Buffer.from([n & 0xff]),
  u32: (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; },
  str: (s: string) => Buffer.from(s, 'latin1'),
  /** Sub-options (43, 175), terminated with 255 as PXE 2.1 expects. */
  subs: (items: Array<[number, Buffer]>) =>
    Buffer.concat([...items.map(([c, v]) => Buffer.concat([Buffer.from([c, v.length]), v])), Buffer.from([255])]),
};
