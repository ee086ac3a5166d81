// RFC 2131 §4.1 on the wire: OFFERs and ACKs to a client that did not set
// the broadcast flag (dhclient, udhcpc) go to its MAC and yiaddr; a client
// that set it (udhcpc -B, as OVMF does) still gets broadcasts. Seen in a
// capture on the server's side of the link, not in the server's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { MessageType } from '../../../src/dhcp/codec.js';
import { dhcpFromPcap, messageType } from '../../hardening/pcap.js';
import { buildCli, CLIENT_SCRIPT, cleanupDir, makeSwitch, plug, Rackboot, readEvents, tempDir, waitFor, writeConfig } from './harness.js';

const why = missingPrerequisites(['/usr/sbin/dhclient', '/usr/bin/busybox', '/usr/bin/tcpdump']);
const x = uniqueSuffix();
const NS = { sw: `rbuw${x}`, srv: `rbus${x}`, dhc: `rbuc${x}`, udh: `rbuu${x}`, bc: `rbub${x}` };
const IF = { srv: `rbup${x}`, dhc: `rbuc${x}`, udh: `rbuu${x}`, bc: `rbub${x}` };
const MAC = { dhc: '52:54:00:55:00:01', udh: '52:54:00:55:00:02', bc: '52:54:00:55:00:03' };

const spaces: Netns[] = [];
let dir: string | undefined;
const ns = (name: string) => spaces.find((s) => s.name === name)!;
const eventsOf = (iface: string) => readEvents(`/tmp/rbd-events.${iface}`);

describe.skipIf(why)('OFFER and ACK unicast to clients that did not ask for broadcast', () => {
  beforeAll(() => {
    dir = tempDir();
    for (const name of Object.values(NS)) spaces.push(name === NS.sw ? makeSwitch(name) : Netns.create(name));
    plug(ns(NS.sw), ns(NS.srv), IF.srv, `rbuP${x}`, { cidr: '10.77.0.1/24' });
    plug(ns(NS.sw), ns(NS.dhc), IF.dhc, `rbuC${x}`, { mac: MAC.dhc });
    plug(ns(NS.sw), ns(NS.udh), IF.udh, `rbuU${x}`, { mac: MAC.udh });
    plug(ns(NS.sw), ns(NS.bc), IF.bc, `rbuB${x}`, { mac: MAC.bc });
    for (const i of Object.values(IF)) rmSync(`/tmp/rbd-events.${i}`, { force: true });
  });
  afterAll(async () => {
    for (const s of spaces.reverse()) await s.destroy();
    for (const i of Object.values(IF)) rmSync(`/tmp/rbd-events.${i}`, { force: true });
    cleanupDir(dir);
  }, 60_000);

  it('dhclient and udhcpc get theirs at their MAC and new address; udhcpc -B gets broadcasts; all three bind', async () => {
    const config = writeConfig(dir!, {
      interface: IF.srv, serverAddress: '10.77.0.1',
      dhcp: { mode: 'full', subnet: '10.77.0.0/24', pool: { start: '10.77.0.100', end: '10.77.0.140' }, leaseSeconds: 600 },
      tftp: { enabled: false }, http: { listen: '127.0.0.1:0' },
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
    const rb = await Rackboot.start(ns(NS.srv), buildCli(), config, join(dir!, 'data'));
    const pcap = join(dir!, 'server.pcap');
    const cap = ns(NS.srv).spawn('tcpdump', ['-i', IF.srv, '-n', '-U', '-w', pcap, 'udp', 'port', '67', 'or', 'udp', 'port', '68']);
    let capErr = '';
    cap.stderr!.on('data', (d: Buffer) => (capErr += d.toString()));
    await waitFor(() => capErr.includes('listening on'), 20_000, () => `tcpdump did not start: ${capErr}`);
    // "listening on" comes before the capture sees the first frames.
    await new Promise((r) => setTimeout(r, 1_500));

    ns(NS.dhc).spawn('dhclient', ['-d', '-v', '-4', '-cf', '/dev/null', '-lf', join(dir!, 'd.leases'), '-pf', join(dir!, 'd.pid'), '-sf', CLIENT_SCRIPT, IF.dhc]);
    ns(NS.udh).spawn('busybox', ['udhcpc', '-f', '-n', '-q', '-i', IF.udh, '-s', CLIENT_SCRIPT, '-t', '10', '-T', '2']);
    ns(NS.bc).spawn('busybox', ['udhcpc', '-B', '-f', '-n', '-q', '-i', IF.bc, '-s', CLIENT_SCRIPT, '-t', '10', '-T', '2']);
    const bound = (iface: string) => eventsOf(iface).find((e) => /^(BOUND|bound) /.test(e))?.split(' ')[1];
    await waitFor(() => [IF.dhc, IF.udh, IF.bc].every((i) => bound(i) !== undefined), 40_000,
      () => `not all bound: ${JSON.stringify([IF.dhc, IF.udh, IF.bc].map(eventsOf))}`);
    await new Promise((r) => setTimeout(r, 500));
    cap.kill('SIGINT');
    await new Promise<void>((r) => (cap.exitCode !== null ? r() : cap.once('exit', () => r())));

    const replies = dhcpFromPcap(pcap).filter((p) => p.op === 2);
    const to = (mac: string, type: number) => replies.filter((p) => p.mac === mac && messageType(p) === type).map((p) => `${p.ethDst} ${p.ipDst}`);
    for (const [name, iface] of [['dhc', IF.dhc], ['udh', IF.udh]] as const) {
      const mac = MAC[name];
      const ip = bound(iface)!;
      expect(rb.lease(mac)).toMatchObject({ ip, state: 'bound' });
      for (const type of [MessageType.OFFER, MessageType.ACK]) {
        const seen = to(mac, type);
        expect(seen.length, `${name}: no ${type === MessageType.OFFER ? 'OFFER' : 'ACK'} captured`).toBeGreaterThan(0);
        expect(new Set(seen), `${name} replies`).toEqual(new Set([`${mac} ${ip}`]));
      }
    }
    for (const type of [MessageType.OFFER, MessageType.ACK]) {
      const seen = to(MAC.bc, type);
      expect(seen.length).toBeGreaterThan(0);
      expect(new Set(seen)).toEqual(new Set(['ff:ff:ff:ff:ff:ff 255.255.255.255']));
    }
    expect(rb.lease(MAC.bc)).toMatchObject({ ip: bound(IF.bc), state: 'bound' });
  }, 120_000);
});
