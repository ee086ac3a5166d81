// Per-round-trip turnarounds of one TFTP transfer from a pcap taken on the
// server's interface (Ethernet, IPv4, micro- or nanosecond timestamps):
// server: an ACK of block k in, to the first DATA k+1 out after it (the
// server's wake-up, receive, decision and send); client: DATA k in, to the
// client's ACK k out. Seconds, in capture order.

const ETHERNET = 1;

/** { server: seconds[], client: seconds[] } for the transfer served from serverIp. */
export function turnarounds(pcap, serverIp) {
  const magic = pcap.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (!nano && magic !== 0xa1b2c3d4) throw new Error('not a little-endian pcap');
  if (pcap.readUInt32LE(20) !== ETHERNET) throw new Error('pcap link type is not Ethernet');
  const server = [], client = [];
  const ackAt = new Map(), dataAt = new Map();
  for (let off = 24; off + 16 <= pcap.length;) {
    const ts = pcap.readUInt32LE(off) + pcap.readUInt32LE(off + 4) / (nano ? 1e9 : 1e6);
    const caplen = pcap.readUInt32LE(off + 8);
    const pkt = pcap.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (pkt.length < 14 + 20 + 8 + 4 || pkt.readUInt16BE(12) !== 0x0800 || pkt[14 + 9] !== 17) continue;
    const ip = 14, udp = ip + (pkt[ip] & 0x0f) * 4, tftp = udp + 8;
    if (pkt.length < tftp + 4) continue;
    const fromServer = pkt.subarray(ip + 12, ip + 16).join('.') === serverIp;
    const op = pkt.readUInt16BE(tftp), block = pkt.readUInt16BE(tftp + 2);
    if (op === 4 && !fromServer) {
      const sent = dataAt.get(block);
      if (sent !== undefined) (client.push(ts - sent), dataAt.delete(block));
      ackAt.set(block, ts);
    } else if (op === 3 && fromServer) {
      const acked = ackAt.get((block - 1) & 0xffff);
      if (acked !== undefined) (server.push(ts - acked), ackAt.delete((block - 1) & 0xffff));
      dataAt.set(block, ts);
    }
  }
  return { server, client };
}
