// Node's floor for a DHCP exchange: a bare node:dgram responder that answers
// a DISCOVER with an OFFER and a REQUEST with an ACK, with no store, no
// policy, no log and no codec beyond the bytes perfdhcp reads. The DHCP bench
// runs it through the same perfdhcp rungs as the servers, so the distance
// between its p99 and kea-dhcp4's is what Node's event loop and V8 cost on
// this machine, and the distance between rackboot's and its is our code's.
//
// Usage: node dhcp-floor.mjs SERVER_ADDRESS [PORT] (PORT 67 by default).
// Prints "listening PORT" once bound.
//
// Only what RFC 2131 §2 and §4.3 need for perfdhcp's DORA: a BOOTREPLY with
// the request's xid, flags, giaddr and chaddr; yiaddr from a per-MAC table
// counting up from 10.77.1.0, the bench's pool (the requested address,
// option 50, for an ACK); options 53, 54, 51 and 1
// (RFC 2132 §9.6, §9.7, §9.2, §3.3). Replies go to giaddr:67 through a relay
// (perfdhcp is one) and are broadcast to port 68 otherwise.
import dgram from 'node:dgram';

const [serverAddress = '10.77.0.1', portArg = '67'] = process.argv.slice(2);
const DISCOVER = 1;
const REQUEST = 3;
const OFFER = 2;
const ACK = 5;
const COOKIE = 0x63825363;
const FIRST_ADDRESS = ipToInt('10.77.1.0');

function ipToInt(ip) {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

const server = ipToInt(serverAddress);
const byMac = new Map();
let next = FIRST_ADDRESS;

/** Option `code`'s value in the request's options (no overload, no long-option concatenation: perfdhcp sends neither). */
function option(msg, code) {
  for (let i = 240; i < msg.length;) {
    const c = msg[i];
    if (c === 255) return undefined;
    if (c === 0) { i++; continue; }
    const len = msg[i + 1];
    if (c === code) return msg.subarray(i + 2, i + 2 + len);
    i += 2 + len;
  }
  return undefined;
}

function reply(msg) {
  if (msg.length < 241 || msg[0] !== 1 || msg.readUInt32BE(236) !== COOKIE) return undefined;
  const type = option(msg, 53)?.[0];
  if (type !== DISCOVER && type !== REQUEST) return undefined;
  const mac = msg.toString('hex', 28, 34);
  let address = byMac.get(mac);
  if (address === undefined) byMac.set(mac, (address = next++));
  const requested = option(msg, 50);
  if (type === REQUEST && requested?.length === 4) address = requested.readUInt32BE(0);
  const out = Buffer.alloc(300);
  msg.copy(out, 0, 0, 236); // htype, hlen, hops, xid, secs, flags, ciaddr, giaddr, chaddr, sname, file
  out[0] = 2;
  out.writeUInt32BE(address, 16);
  out.writeUInt32BE(server, 20);
  out.writeUInt32BE(COOKIE, 236);
  let i = 240;
  for (const [code, value] of [[53, [type === DISCOVER ? OFFER : ACK]], [54, u32(server)], [51, u32(3600)], [1, u32(0xffff0000)]]) {
    out[i++] = code;
    out[i++] = value.length;
    for (const b of value) out[i++] = b;
  }
  out[i] = 255;
  return out;
}

function u32(n) {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
sock.on('message', (msg) => {
  const out = reply(msg);
  if (!out) return;
  const giaddr = msg.readUInt32BE(24);
  if (giaddr !== 0) sock.send(out, 67, [24, 25, 26, 27].map((o) => msg[o]).join('.'));
  else sock.send(out, 68, '255.255.255.255');
});
sock.bind(Number(portArg), '0.0.0.0', () => {
  sock.setBroadcast(true);
  console.log(`listening ${sock.address().port}`);
});
process.on('SIGTERM', () => sock.close(() => process.exit(0)));
