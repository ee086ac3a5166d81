// Runs inside a test namespace: sends one UDP datagram (hex) from a local
// port and prints every datagram received within --wait ms as a JSON line.
// Used as a scripted PXE client or relay agent in the DHCP real-peer tests.
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'bind-port': { type: 'string' }, 'bind-address': { type: 'string', default: '0.0.0.0' },
    to: { type: 'string' }, hex: { type: 'string' }, wait: { type: 'string', default: '3000' },
  },
});
const [host, port] = values.to.split(':');
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
sock.on('message', (msg, rinfo) => {
  process.stdout.write(JSON.stringify({ from: rinfo.address, port: rinfo.port, hex: msg.toString('hex') }) + '\n');
});
sock.bind(Number(values['bind-port']), values['bind-address'], () => {
  sock.setBroadcast(true);
  sock.send(Buffer.from(values.hex, 'hex'), Number(port), host, (err) => {
    if (err) { console.error(err.message); process.exit(2); }
  });
  setTimeout(() => sock.close(), Number(values.wait));
});
