// Reads the DHCP messages out of a classic pcap file (tcpdump -w) so a test
// can see what clients were really told, independent of the server's log.
import { readFileSync } from 'node:fs';
import { parseDhcp, type DhcpPacket } from '../../src/dhcp/codec.js';
import { parseDhcpv6, type ClientServerMessage } from '../../src/dhcpv6/codec.js';

const LINKTYPE_ETHERNET = 1;

/** Where a captured frame was addressed: Ethernet and IPv4 destination. */
export interface FrameTo { ethDst: string; ipDst: string }

/** Every whole Ethernet frame in a classic pcap file, with its capture time (epoch ms). */
export function pcapFrames(file: string): Array<{ at: number; frame: Buffer }> {
  const buf = readFileSync(file);
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`);
  const u32 = (at: number) => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const nano = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d;
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${u32(20)}, expected Ethernet`);
  const out: Array<{ at: number; frame: Buffer }> = [];
  // A capture cut by the kill may end mid-record: stop at the last whole one.
  for (let at = 24; at + 16 <= buf.length;) {
    const when = u32(at) * 1000 + u32(at + 4) / (nano ? 1e6 : 1e3);
    const incl = u32(at + 8);
    const frame = buf.subarray(at + 16, at + 16 + incl);
    at += 16 + incl;
    if (frame.length < incl) break;
    out.push({ at: when, frame });
  }
  return out;
}

/** The DHCP messages in a capture, each with its capture time (`at`, epoch ms) and destination. */
export function dhcpFromPcap(file: string): Array<DhcpPacket & { at: number } & FrameTo> {
  const out: Array<DhcpPacket & { at: number } & FrameTo> = [];
  for (const { at: when, frame } of pcapFrames(file)) {
    if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[14 + 9] !== 17) continue; // UDP only
    const udp = 14 + ihl;
    const parsed = parseDhcp(Buffer.from(frame.subarray(udp + 8)));
    const ethDst = [...frame.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
    const ipDst = [...frame.subarray(14 + 16, 14 + 20)].join('.');
    if (parsed.ok) out.push({ ...parsed.packet, at: when, ethDst, ipDst });
  }
  return out;
}

/** The DHCPv6 client/server messages in a capture (UDP right after the IPv6 header), each with its capture time. */
export function dhcpv6FromPcap(file: string): Array<ClientServerMessage & { at: number }> {
  const out: Array<ClientServerMessage & { at: number }> = [];
  for (const { at, frame } of pcapFrames(file)) {
    if (frame.length < 14 + 40 + 8 || frame.readUInt16BE(12) !== 0x86dd || frame[14 + 6] !== 17) continue;
    const parsed = parseDhcpv6(Buffer.from(frame.subarray(14 + 40 + 8)));
    if (parsed.ok && parsed.message.kind === 'message') out.push({ ...parsed.message, at });
  }
  return out;
}

export const messageType = (p: DhcpPacket): number | undefined => p.raw.get(53)?.[0];
