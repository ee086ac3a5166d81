// RFC 2131 §4.1: "If the broadcast bit is not set and giaddr is zero and
// ciaddr is zero, then the server unicasts DHCPOFFER and DHCPACK messages to
// the client's hardware address and yiaddr address." A client with no
// address yet cannot answer ARP for yiaddr, so the server first writes the
// neighbour entry itself (the addon's setArp). A broadcast reply is copied
// to every port of the segment; on a 1,000-port bridge that was what filled
// the host's input backlogs in the 1,000-machine storm.
//
// Clients that ask for broadcast (OVMF sets the flag, CLIENTS.md) keep it,
// and so does every reply whose entry cannot be written (counted).
import type { OutgoingPacket } from './codec.js';
import { BROADCAST_FLAG } from './handler/common.js';

const ZERO = '0.0.0.0';

/** Where a reply the handler would broadcast can go unicast instead: yiaddr at chaddr, or undefined. */
export function unicastTarget(reply: { type: string; packet: OutgoingPacket; to: { address: string } }): { ip: string; mac: Buffer } | undefined {
  if (reply.to.address !== '255.255.255.255') return undefined;
  if (reply.type !== 'offer' && reply.type !== 'ack') return undefined;
  const p = reply.packet;
  if (p.flags & BROADCAST_FLAG) return undefined;
  if ((p.giaddr ?? ZERO) !== ZERO || (p.ciaddr ?? ZERO) !== ZERO) return undefined;
  if (p.yiaddr === undefined || p.yiaddr === ZERO) return undefined;
  // Only Ethernet: the neighbour entry is a 6-byte hardware address.
  if ((p.htype ?? 1) !== 1 || (p.hlen ?? 6) !== 6 || p.chaddr.length < 6) return undefined;
  return { ip: p.yiaddr, mac: Buffer.from(p.chaddr.subarray(0, 6)) };
}
