// Full mode against real clients: rackboot (the built CLI, real sockets)
// in its own namespace on a bridge "switch", with dhclient, udhcpc,
// perfdhcp, a second DHCP server (busybox udhcpd), a scripted relay agent,
// and a client on a second, non-provisioning interface of the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linkNamespaces, missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { parseDhcp } from '../../../src/dhcp/codec.js';
import { plainDiscover } from '../fixtures.js';
import {
  buildCli, CLIENT_SCRIPT, cleanupDir, exchange, makeSwitch, perfdhcpCounts, plug, Rackboot, readEvents, tempDir, waitFor, writeConfig,
} from './harness.js';

const why = missingPrerequisites(['/usr/sbin/dhclient', '/usr/bin/busybox', '/usr/sbin/perfdhcp', '/usr/bin/tcpdump']);
const x = uniqueSuffix();
const NS = { sw: `rbdw${x}`, srv: `rbds${x}`, dhc: `rbdc${x}`, udh: `rbdu${x}`, two: `rbd2${x}`, rej: `rbdj${x}`, other: `rbdo${x}`, rel: `rbdr${x}`, perf: `rbdf${x}`, ask: `rbda${x}` };
const IF = { srv: `rbdp${x}`, srv2: `rbdx${x}`, dhc: `rbdc${x}`, udh: `rbdu${x}`, two: `rbd2${x}`, rej: `rbdj${x}`, other: `rbdy${x}`, rel: `rbdr${x}`, perf: `rbdf${x}`, ask: `rbda${x}` };
const NODES = [
  { name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' },
  { name: 'cp-2', mac: '52:54:00:12:34:02', ip: '10.77.0.12' },
  { name: 'cp-3', mac: '52:54:00:12:34:03', ip: '10.77.0.13' },
  { name: 'w-1', mac: '52:54:00:12:34:04', ip: '10.77.0.14' },
];

/** Not in the inventory: it gets pool addresses. */
const ASKING_MAC = '52:54:00:12:34:77';

const spaces: Netns[] = [];
let dir: string | undefined;
let rb: Rackboot;
const ns = (name: string) => spaces.find((s) => s.name === name)!;
const eventsOf = (iface: string) => readEvents(`/tmp/rbd-events.${iface}`);

describe.skipIf(why)('full mode with real DHCP clients in namespaces', () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    for (const name of Object.values(NS)) spaces.push(name === NS.sw ? makeSwitch(name) : Netns.create(name));
    const sw = ns(NS.sw);
    plug(sw, ns(NS.srv), IF.srv, `rbdP${x}`, { cidr: '10.77.0.1/24' });
    plug(sw, ns(NS.dhc), IF.dhc, `rbdC${x}`, { mac: NODES[0]!.mac });
    plug(sw, ns(NS.udh), IF.udh, `rbdU${x}`, { mac: NODES[1]!.mac });
    plug(sw, ns(NS.rej), IF.rej, `rbdJ${x}`, { mac: NODES[2]!.mac });
    plug(sw, ns(NS.two), IF.two, `rbd2B${x}`, { cidr: '10.77.0.2/24' });
    plug(sw, ns(NS.rel), IF.rel, `rbdR${x}`, { cidr: '10.88.0.1/24' });
    plug(sw, ns(NS.perf), IF.perf, `rbdF${x}`, { cidr: '10.77.0.5/24' });
    plug(sw, ns(NS.ask), IF.ask, `rbdA${x}`, { mac: ASKING_MAC });
    linkNamespaces(ns(NS.srv), IF.srv2, ns(NS.other), IF.other, { aCidr: '10.99.0.1/24' });
    ns(NS.other).exec('ip', ['link', 'set', IF.other, 'address', NODES[3]!.mac]);
    ns(NS.srv).exec('ip', ['route', 'add', '10.88.0.0/24', 'dev', IF.srv]);
    ns(NS.rel).exec('ip', ['route', 'add', '10.77.0.0/24', 'dev', IF.rel]);
    for (const i of Object.values(IF)) rmSync(`/tmp/rbd-events.${i}`, { force: true });

    const config = writeConfig(dir, {
      interface: IF.srv, serverAddress: '10.77.0.1',
      dhcp: {
        mode: 'full', subnet: '10.77.0.0/24', pool: { start: '10.77.0.20', end: '10.77.0.140' }, leaseSeconds: 120,
        relays: [{ subnet: '10.88.0.0/24', pool: { start: '10.88.0.100', end: '10.88.0.120' }, gateway: '10.88.0.1' }],
      },
      http: { listen: '10.77.0.1:8080', publicUrl: 'http://10.77.0.1:8080' },
    }, NODES);
    rb = await Rackboot.start(ns(NS.srv), cli, config, join(dir, 'data'));
  }, 240_000);

  afterAll(async () => {
    for (const s of spaces.reverse()) await s.destroy();
    for (const i of Object.values(IF)) rmSync(`/tmp/rbd-events.${i}`, { force: true });
    cleanupDir(dir);
  }, 60_000);

  it('dhclient gets its reserved address, renews it by unicast, and releases it', async () => {
    const conf = join(dir!, 'dhclient.conf');
    writeFileSync(conf, 'supersede dhcp-renewal-time 2;\nsupersede dhcp-rebinding-time 100;\n');
    const args = ['-4', '-cf', conf, '-lf', join(dir!, 'dhclient.leases'), '-pf', join(dir!, 'dhclient.pid'), '-sf', CLIENT_SCRIPT];
    ns(NS.dhc).spawn('dhclient', ['-d', '-v', ...args, IF.dhc]);
    await waitFor(() => eventsOf(IF.dhc).includes('BOUND 10.77.0.11'), 20_000, 'dhclient BOUND 10.77.0.11');
    expect(rb.lease(NODES[0]!.mac)).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    await waitFor(() => eventsOf(IF.dhc).includes('RENEW 10.77.0.11'), 20_000, 'dhclient RENEW');
    // The renewal came by unicast from the client's own address (RFC 2131 §4.4.5 RENEWING).
    expect(rb.dhcpLines(NODES[0]!.mac).some((l) => l.type === 'REQUEST' && l.from === '10.77.0.11:68' && l.to === '10.77.0.11:68')).toBe(true);
    ns(NS.dhc).exec('dhclient', ['-r', ...args, IF.dhc], { timeoutMs: 20_000 });
    await waitFor(() => rb.lease(NODES[0]!.mac)?.state === 'released', 10_000, 'lease released');
  }, 60_000);

  it('udhcpc gets its reserved address, renews it (SIGUSR1) and releases it (SIGUSR2)', async () => {
    const p = ns(NS.udh).spawn('busybox', ['udhcpc', '-f', '-i', IF.udh, '-s', CLIENT_SCRIPT, '-t', '10', '-T', '2', '-A', '2']);
    await waitFor(() => eventsOf(IF.udh).includes('bound 10.77.0.12'), 20_000, 'udhcpc bound 10.77.0.12');
    const before = rb.lease(NODES[1]!.mac)!;
    expect(before).toMatchObject({ ip: '10.77.0.12', state: 'bound' });
    await new Promise((r) => setTimeout(r, 20));
    // busybox runs udhcpc under `ip netns exec`, which execs it: the child pid is udhcpc itself.
    p.kill('SIGUSR1');
    await waitFor(() => eventsOf(IF.udh).includes('renew 10.77.0.12'), 15_000, 'udhcpc renew');
    expect(rb.lease(NODES[1]!.mac)!.expires_at).toBeGreaterThan(before.expires_at);
    expect(rb.dhcpLines(NODES[1]!.mac).some((l) => l.type === 'REQUEST' && l.from === '10.77.0.12:68')).toBe(true);
    p.kill('SIGUSR2');
    await waitFor(() => rb.lease(NODES[1]!.mac)?.state === 'released', 10_000, 'udhcpc release');
  }, 60_000);

  it('perfdhcp runs DORA at a steady rate with zero drops', () => {
    const out = ns(NS.perf).exec('perfdhcp', ['-4', '-l', IF.perf, '-r', '25', '-R', '100', '-p', '8'], { timeoutMs: 40_000 });
    const { sent, received, drops } = perfdhcpCounts(out);
    console.log(out.split('\n').filter((l) => /Rate|sent|received|drops:|avg delay/.test(l)).join('\n'));
    expect(sent.length).toBe(2); // DISCOVER-OFFER and REQUEST-ACK
    expect(sent[0]).toBeGreaterThanOrEqual(150);
    expect(drops).toEqual([0, 0]);
    expect(received).toEqual(sent);
  }, 60_000);

  it('a REQUEST for another server is ignored: the client takes the second server\'s offer', async () => {
    const leases = join(dir!, 'udhcpd.leases');
    writeFileSync(leases, '');
    const conf = join(dir!, 'udhcpd.conf');
    writeFileSync(conf, `start 10.77.0.150\nend 10.77.0.160\ninterface ${IF.two}\nlease_file ${leases}\noption subnet 255.255.255.0\noption lease 120\n`);
    const udhcpd = ns(NS.two).spawn('busybox', ['udhcpd', '-f', conf]);
    const dconf = join(dir!, 'reject.conf');
    writeFileSync(dconf, 'reject 10.77.0.1;\n');
    ns(NS.rej).spawn('dhclient', ['-d', '-v', '-4', '-cf', dconf, '-lf', join(dir!, 'rej.leases'), '-pf', join(dir!, 'rej.pid'), '-sf', CLIENT_SCRIPT, IF.rej]);
    await waitFor(() => eventsOf(IF.rej).some((e) => /^BOUND 10\.77\.0\.1[56]\d$/.test(e)), 30_000, 'dhclient bound via the second server');
    const mac = NODES[2]!.mac;
    await waitFor(() => rb.dhcpLines(mac).some((l) => l.drop === 'other-server'), 5_000, 'rackboot saw the REQUEST for 10.77.0.2');
    expect(rb.dhcpLines(mac).some((l) => String(l.msg).includes('offer 10.77.0.13'))).toBe(true);
    expect(rb.dhcpLines(mac).some((l) => String(l.msg).includes('dhcp: ack'))).toBe(false);
    expect(rb.lease(mac)).toBeUndefined();
    udhcpd.kill('SIGTERM');
  }, 60_000);

  /** udhcpc -r: asks for `wish` in its DISCOVER (option 50), takes what it is offered, and exits. */
  const udhcpcAsking = async (wish: string) => {
    const p = ns(NS.ask).spawn('busybox', ['udhcpc', '-f', '-n', '-q', '-i', IF.ask, '-r', wish, '-s', CLIENT_SCRIPT, '-t', '5', '-T', '2']);
    expect(await new Promise<number | null>((r) => p.once('exit', (c) => r(c)))).toBe(0);
  };

  it('udhcpc -r: a DISCOVER asking for a free pool address gets it (option 50), and its lease comes before a new wish (RFC 2131 §4.3.1)', async () => {
    rmSync(`/tmp/rbd-events.${IF.ask}`, { force: true });
    const run = udhcpcAsking;
    await run('10.77.0.130');
    expect(eventsOf(IF.ask)).toContain('bound 10.77.0.130');
    expect(rb.lease(ASKING_MAC)).toMatchObject({ ip: '10.77.0.130', state: 'bound' });
    await run('10.77.0.131');
    expect(eventsOf(IF.ask).filter((e) => e.startsWith('bound'))).toEqual(['bound 10.77.0.130', 'bound 10.77.0.130']);
  }, 60_000);

  it('dhclient in INIT-REBOOT asking for a free address that is not its lease gets a NAK, then its own lease by DISCOVER (RFC 2131 §4.3.2)', async () => {
    await udhcpcAsking('10.77.0.130'); // the MAC holds .130
    rmSync(`/tmp/rbd-events.${IF.ask}`, { force: true });
    // A lease file that says the client holds the free .131: dhclient starts in INIT-REBOOT with option 50 = .131.
    const leases = join(dir!, 'ask.leases');
    writeFileSync(leases, `lease {\n  interface "${IF.ask}";\n  fixed-address 10.77.0.131;\n  option subnet-mask 255.255.255.0;\n`
      + '  option dhcp-server-identifier 10.77.0.1;\n  option dhcp-lease-time 3600;\n'
      + '  renew 4 2037/01/01 00:00:00;\n  rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n');
    const p = ns(NS.ask).spawn('dhclient', ['-4', '-d', '-v', '-lf', leases, '-pf', join(dir!, 'ask.pid'), '-sf', CLIENT_SCRIPT, IF.ask]);
    try {
      await waitFor(() => eventsOf(IF.ask).some((e) => /^(BOUND|REBOOT) /.test(e)), 30_000, () => `dhclient events: ${eventsOf(IF.ask).join(', ')}`);
      expect(eventsOf(IF.ask).filter((e) => /^(BOUND|REBOOT) /.test(e))).toEqual(['BOUND 10.77.0.130']);
      expect(rb.dhcpLines(ASKING_MAC).some((l) => String(l.msg).startsWith('dhcp: nak: 10.77.0.131'))).toBe(true);
      expect(rb.lease(ASKING_MAC)).toMatchObject({ ip: '10.77.0.130', state: 'bound' });
      expect(rb.query('SELECT * FROM leases WHERE ip=?', '10.77.0.131')).toEqual([]);
    } finally {
      p.kill();
    }
  }, 60_000);

  it('a client on the server\'s second, non-provisioning interface gets nothing', async () => {
    const cap = ns(NS.srv).spawn('tcpdump', ['-i', IF.srv2, '-n', '-l', '-c', '1', 'udp', 'port', '67']);
    let captured = '';
    cap.stdout!.on('data', (d: Buffer) => (captured += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    const client = ns(NS.other).spawn('busybox', ['udhcpc', '-f', '-n', '-q', '-i', IF.other, '-s', CLIENT_SCRIPT, '-t', '3', '-T', '1']);
    const code = await new Promise<number | null>((r) => client.once('exit', (c) => r(c)));
    expect(code).not.toBe(0); // no lease
    await waitFor(() => captured.includes('BOOTP/DHCP'), 5_000, () => `the DISCOVER never reached the server namespace: ${captured}`);
    expect(eventsOf(IF.other).some((e) => e.startsWith('bound'))).toBe(false);
    expect(rb.dhcpLines(NODES[3]!.mac)).toEqual([]);
    expect(rb.query('SELECT * FROM discovered WHERE mac=?', NODES[3]!.mac)).toEqual([]);
  }, 60_000);

  it('answers a relayed DISCOVER to the relay, from the relay\'s subnet, with option 82 copied back', () => {
    const opt82 = [1, 4, 0x70, 0x6f, 0x72, 0x74, 2, 3, 0x72, 0x65, 0x6c];
    const req = plainDiscover([2, 0, 0, 0x88, 0, 1], 0x7e1a7, [[82, opt82]]);
    req.set([10, 88, 0, 1], 24); // giaddr
    req[3] = 1; // hops
    const replies = exchange(ns(NS.rel), { bindPort: 67, bindAddress: '10.88.0.1', to: '10.77.0.1:67', bytes: req });
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ from: '10.77.0.1', port: 67 });
    const p = parseDhcp(replies[0]!.bytes);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.packet.options.messageType).toBe(2);
    expect(p.packet.yiaddr).toMatch(/^10\.88\.0\.(1[01]\d|120)$/);
    expect(p.packet.giaddr).toBe('10.88.0.1');
    expect(p.packet.options.routers).toEqual(['10.88.0.1']);
    expect(p.packet.raw.get(82)).toEqual(Buffer.from(opt82));
  });
});
