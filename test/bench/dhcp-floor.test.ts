// The DHCP bench's "Node's floor" responder (bench/lib/dhcp-floor.mjs) must
// be a server perfdhcp completes DORA with, or its row measures nothing:
// perfdhcp as a relay agent against it in namespaces, as the bench runs it,
// and one relayed DISCOVER and REQUEST read back with our codec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';
import { exchange, makeSwitch, perfdhcpCounts, plug } from '../dhcp/netns/harness.js';
import { message, MAC_UNKNOWN } from '../dhcp/fixtures.js';
import { MessageType, parseDhcp } from '../../src/dhcp/codec.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp']);
const FLOOR = fileURLToPath(new URL('../../bench/lib/dhcp-floor.mjs', import.meta.url));

describe.skipIf(why)("the DHCP bench's bare node:dgram responder", () => {
  const x = uniqueSuffix();
  let sw: Netns, srv: Netns, cli: Netns;
  let floor: ChildProcess;

  beforeAll(async () => {
    sw = makeSwitch(`rbfw${x}`);
    srv = Netns.create(`rbfs${x}`);
    cli = Netns.create(`rbfc${x}`);
    plug(sw, srv, `rbfs${x}`, `rbfS${x}`, { cidr: '10.77.0.1/16' });
    plug(sw, cli, `rbfc${x}`, `rbfC${x}`, { cidr: '10.77.0.5/16' });
    floor = srv.spawn(process.execPath, [FLOOR, '10.77.0.1']);
    floor.stderr!.resume();
    await new Promise<void>((resolve, reject) => {
      floor.stdout!.on('data', (d: Buffer) => d.toString().includes('listening 67') && resolve());
      floor.once('exit', (code) => reject(new Error(`the responder exited (${code})`)));
    });
  }, 30_000);

  afterAll(async () => {
    floor?.kill('SIGKILL');
    for (const n of [cli, srv, sw]) await n?.destroy();
  });

  it('perfdhcp completes every DORA exchange against it', () => {
    const out = cli.exec('perfdhcp', ['-4', '-l', `rbfc${x}`, '-r', '50', '-R', '1000', '-p', '3'], { timeoutMs: 30_000 });
    const { sent, received } = perfdhcpCounts(out);
    expect(sent.length).toBe(2); // DISCOVER-OFFER and REQUEST-ACK
    expect(sent[1]).toBeGreaterThanOrEqual(100);
    expect(received).toEqual(sent);
  }, 40_000);

  it('offers an address to a relayed DISCOVER and ACKs the REQUEST for it, to the relay', () => {
    const [offer] = exchange(cli, { bindPort: 67, to: '10.77.0.1:67', bytes: message(MessageType.DISCOVER, MAC_UNKNOWN, { giaddr: '10.77.0.5' }) });
    expect(offer?.port).toBe(67);
    const o = parseDhcp(offer!.bytes);
    if (!o.ok) throw new Error(`OFFER did not parse: ${JSON.stringify(o.error)}`);
    expect(o.packet.op).toBe(2);
    expect(o.packet.xid).toBe(0x01020304);
    expect(o.packet.options.messageType).toBe(MessageType.OFFER);
    expect(o.packet.options.serverId).toBe('10.77.0.1');
    expect(o.packet.mac).toBe('52:54:00:aa:bb:cc');
    const yiaddr = o.packet.yiaddr;
    expect(yiaddr).toMatch(/^10\.77\.1\./);

    const [ack] = exchange(cli, {
      bindPort: 67, to: '10.77.0.1:67', bytes: message(MessageType.REQUEST, MAC_UNKNOWN, { giaddr: '10.77.0.5', server: '10.77.0.1', requested: yiaddr }),
    });
    const a = parseDhcp(ack!.bytes);
    if (!a.ok) throw new Error(`ACK did not parse: ${JSON.stringify(a.error)}`);
    expect(a.packet.options.messageType).toBe(MessageType.ACK);
    expect(a.packet.yiaddr).toBe(yiaddr);
    expect(a.packet.options.leaseTime).toBe(3600);
  }, 30_000);
});
