// Reads the tcpdump capture of a test bridge: DHCP (RFC 2131 §2 header,
// RFC 2132 options), TFTP read requests (RFC 1350 §5) and HTTP request
// lines (RFC 9112 §3) at the start of a TCP segment to the server. The wire is the
// one record of what each firmware sent that does not depend on how
// rackboot logs.
import { readFileSync } from 'node:fs';
import { parseDhcpv6 } from '../../src/dhcpv6/codec.js';
import { ipv6Text } from '../../src/dhcpv6/ipv6.js';

export interface DhcpPacket {
  kind: 'dhcp';
  at: number;
  srcIp: string;
  srcPort: number;
  dstPort: number;
  /** RFC 2132 §9.6 option 53: 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK, 6 NAK. */
  type: number;
  mac: string;
  /** RFC 2131 yiaddr: the address offered or acknowledged; 0.0.0.0 from a proxyDHCP server. */
  yiaddr: string;
  userClass?: string;
  vendorClass?: string;
  /** RFC 4578 §2.1 option 93: the first client system architecture type (branch arm64). */
  clientArch?: number;
  file: string;
}

export interface TftpRequest {
  kind: 'tftp-rrq';
  at: number;
  srcIp: string;
  file: string;
  options: Record<string, string>;
}

export interface HttpGet {
  kind: 'http-get';
  at: number;
  srcIp: string;
  /** The request target as sent: an HTTP boot client's URL path, double slashes and all. */
  target: string;
  userAgent?: string;
}

/** branch ipv6: a DHCPv6 message (RFC 8415), read with rackboot's own codec, relays unwrapped. */
export interface Dhcpv6Wire {
  kind: 'dhcpv6';
  at: number;
  srcIp: string;
  type: number;
  transactionId: number;
  bootFileUrl?: string;
  vendorClass?: string;
  userClass?: string;
  clientArch?: number;
  addresses: string[];
}

export type WirePacket = DhcpPacket | TftpRequest | HttpGet | Dhcpv6Wire;

function parseDhcpv6Wire(p: Buffer, at: number, srcIp: string): Dhcpv6Wire | undefined {
  const r = parseDhcpv6(p);
  if (!r.ok || r.message.kind !== 'message') return undefined;
  const o = r.message.options;
  return {
    kind: 'dhcpv6', at, srcIp, type: r.message.type, transactionId: r.message.transactionId, bootFileUrl: o.bootFileUrl,
    vendorClass: o.vendorClass[0]?.data[0], userClass: o.userClass?.join(','), clientArch: o.clientArch?.[0],
    addresses: o.iaNa.flatMap((ia) => ia.addresses.map((a) => a.address)),
  };
}

export const DHCP_TYPE: Record<number, string> = { 1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM' };

const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const cstr = (b: Buffer) => b.toString('latin1').replace(/\0.*$/s, '');

function parseDhcp(p: Buffer, at: number, srcIp: string, srcPort: number, dstPort: number): DhcpPacket | undefined {
  if (p.length < 240 || p.readUInt32BE(236) !== 0x63825363) return undefined;
  const mac = Array.from(p.subarray(28, 34), (x) => x.toString(16).padStart(2, '0')).join(':');
  const pkt: DhcpPacket = { kind: 'dhcp', at, srcIp, srcPort, dstPort, type: 0, mac, yiaddr: ip4(p, 16), file: cstr(p.subarray(108, 236)) };
  for (let o = 240; o < p.length;) {
    const code = p[o]!;
    if (code === 255) break;
    if (code === 0) { o++; continue; }
    const len = p[o + 1] ?? 0;
    const v = p.subarray(o + 2, o + 2 + len);
    if (code === 53) pkt.type = v[0] ?? 0;
    // RFC 3004 user class is length-prefixed; iPXE sends the bare string.
    if (code === 77) pkt.userClass = v.toString('latin1').replace(/^[\x00-\x1f]/, '');
    if (code === 60) pkt.vendorClass = v.toString('latin1');
    if (code === 93 && len >= 2) pkt.clientArch = v.readUInt16BE(0);
    if (code === 67 && !pkt.file) pkt.file = cstr(v);
    o += 2 + len;
  }
  return pkt;
}

function parseHttpGet(p: Buffer, at: number, srcIp: string): HttpGet | undefined {
  if (p.length < 14 || p.toString('latin1', 0, 4) !== 'GET ') return undefined;
  const head = p.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
  const target = head[0]!.split(' ')[1] ?? '';
  const ua = head.find((l) => /^user-agent:/i.test(l));
  return { kind: 'http-get', at, srcIp, target, userAgent: ua?.slice(ua.indexOf(':') + 1).trim() };
}

function parseTftp(p: Buffer, at: number, srcIp: string): TftpRequest | undefined {
  if (p.length < 4 || p.readUInt16BE(0) !== 1) return undefined;
  const parts = p.subarray(2).toString('latin1').split('\0');
  const options: Record<string, string> = {};
  for (let i = 2; i + 1 < parts.length; i += 2) if (parts[i]) options[parts[i]!.toLowerCase()] = parts[i + 1]!;
  return { kind: 'tftp-rrq', at, srcIp, file: parts[0] ?? '', options };
}

/** Parses a classic pcap file (microsecond timestamps, Ethernet link type). A truncated tail is ignored. */
export function readCapture(file: string): WirePacket[] {
  let b: Buffer;
  try { b = readFileSync(file); } catch { return []; }
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4) return [];
  const out: WirePacket[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const at = b.readUInt32LE(o) * 1000 + Math.floor(b.readUInt32LE(o + 4) / 1000);
    const len = b.readUInt32LE(o + 8);
    const frame = b.subarray(o + 16, o + 16 + len);
    o += 16 + len;
    if (frame.length < len) break;
    let eo = 12;
    if (frame.readUInt16BE(eo) === 0x8100) eo += 4;
    if (frame.length >= eo + 2 + 48 && frame.readUInt16BE(eo) === 0x86dd) {
      const w = readIpv6(frame, eo + 2, at);
      if (w) out.push(w);
      continue;
    }
    if (frame.length < eo + 2 + 28 || frame.readUInt16BE(eo) !== 0x0800) continue;
    const ipo = eo + 2;
    const ihl = (frame[ipo]! & 0x0f) * 4;
    const srcIp = ip4(frame, ipo + 12);
    const uo = ipo + ihl;
    if (frame[ipo + 9] === 6) {
      const end = ipo + frame.readUInt16BE(ipo + 2);
      const get = parseHttpGet(frame.subarray(uo + (frame[uo + 12]! >> 4) * 4, end), at, srcIp);
      if (get) out.push(get);
      continue;
    }
    if (frame[ipo + 9] !== 17) continue;
    const sport = frame.readUInt16BE(uo);
    const dport = frame.readUInt16BE(uo + 2);
    const payload = frame.subarray(uo + 8, uo + frame.readUInt16BE(uo + 4));
    const dhcpPorts = [67, 68, 4011];
    if (dhcpPorts.includes(sport) && dhcpPorts.includes(dport)) {
      const d = parseDhcp(payload, at, srcIp, sport, dport);
      if (d) out.push(d);
    } else if (dport === 69) {
      const t = parseTftp(payload, at, srcIp);
      if (t) out.push(t);
    }
  }
  return out;
}

/** An IPv6 frame (RFC 8200 §3, no extension headers): DHCPv6 on 546/547, a TFTP RRQ, an HTTP GET. */
function readIpv6(frame: Buffer, ipo: number, at: number): WirePacket | undefined {
  const next = frame[ipo + 6];
  const srcIp = ipv6Text(frame, ipo + 8);
  const to = ipo + 40;
  const end = Math.min(frame.length, to + frame.readUInt16BE(ipo + 4));
  if (next === 6) return parseHttpGet(frame.subarray(to + (frame[to + 12]! >> 4) * 4, end), at, srcIp);
  if (next !== 17) return undefined;
  const sport = frame.readUInt16BE(to);
  const dport = frame.readUInt16BE(to + 2);
  const payload = frame.subarray(to + 8, end);
  if ([546, 547].includes(sport) && [546, 547].includes(dport)) return parseDhcpv6Wire(payload, at, srcIp);
  if (dport === 69) return parseTftp(payload, at, srcIp);
  return undefined;
}
