// DHCPv6 failover on one segment (issue 21, branch pg-dhcp6): two rackboot
// daemons serving DHCPv4 and DHCPv6 on one bridge share a real PostgreSQL 15
// (its unix socket, which every namespace sees). perfdhcp -6 runs
// Solicit/Advertise/Request/Reply exchanges from a third namespace; the
// answering daemon is killed with SIGKILL mid-run. What clients were told
// is read from a capture on the client side: with both alive only one
// answers, the standby answers within the documented bound after the kill,
// every address a client saw in a Reply is bound to that client in
// PostgreSQL, and no address was given to two clients. Both daemons'
// /metrics show who answers DHCPv6 on the segment.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { Msg6 } from '../../src/dhcpv6/codec.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { buildCli, Rackboot, waitFor } from '../dhcp/netns/harness.js';
import { dhcpv6FromPcap } from './pcap.js';
import { scrapeMetrics } from './scrape.js';
import { exited, expectBoundInPostgres, twoAppliancesOnOneSwitch, type Side } from './two-appliances.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/bin/tcpdump', '/usr/lib/postgresql/15/bin/initdb', '/usr/bin/curl']);
const MAC = { a: '02:78:00:00:00:01', b: '02:78:00:00:00:02' };
const ADDR = { a: '10.79.0.1', b: '10.79.0.2' };
const ADDR6 = { a: '2001:db8:79::1', b: '2001:db8:79::2' };
/** docs/scale-out.md: the standby's first Reply within this long after the answerer dies (poll 500 ms + one Solicit..Reply exchange, with room for a loaded CI box). */
const TAKEOVER_BOUND_MS = 3_000;
const SCRAPE_TOKEN = 'failover6-scrape-token-0123456789';

describe.skipIf(why)('DHCPv6 failover: kill -9 of the answering appliance during perfdhcp -6', () => {
  const rig = twoAppliancesOnOneSwitch({
    prefix: 'rb6', address: ADDR, mac: MAC, metricsToken: SCRAPE_TOKEN,
    // No duplicate address detection: link-local and static addresses usable at once (perfdhcp sends from the link-local one).
    prepare: (ns) => {
      for (const n of [ns.a, ns.b, ns.perf]) for (const k of ['all', 'default']) n.exec('sysctl', ['-qw', `net.ipv6.conf.${k}.accept_dad=0`]);
    },
    setup: (ns) => {
      ns.a.exec('ip', ['-6', 'addr', 'add', `${ADDR6.a}/64`, 'dev', rig.ifname.a, 'nodad']);
      ns.b.exec('ip', ['-6', 'addr', 'add', `${ADDR6.b}/64`, 'dev', rig.ifname.b, 'nodad']);
    },
  });

  it('only one answers; the standby takes over within the bound; every address in a Reply is bound in PostgreSQL, none twice', async () => {
    const cli = buildCli();
    const conninfo = rig.pg.createDatabase('failover6');
    const instance = (side: Side) => rig.appliance(side, conninfo, {
      dhcp: { mode: 'full', subnet: '10.79.0.0/24', pool: { start: '10.79.0.20', end: '10.79.0.250' }, leaseSeconds: 600 },
      dhcpv6: { enabled: true, prefix: '2001:db8:79::/64', address: ADDR6[side], pool: { start: '2001:db8:79::1000', end: '2001:db8:79::1fff' }, leaseSeconds: 600 },
      http: { listen: '[::]:8080', adminListen: '127.0.0.1:0' },
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.79.0.11' }]);
    const ia = instance('a');
    const ib = instance('b');
    const pcap = join(ia.dir, 'v6.pcap');
    const { a: nsA, b: nsB, perf } = rig.ns;
    const cap = await rig.capture(pcap, ['udp', 'port', '546', 'or', 'udp', 'port', '547']);

    const serving = (rb: Rackboot) => waitFor(() => rb.lines.some((l) => l.msg === 'dhcpv6 serving'), 20_000, () => `no dhcpv6: ${rb.stderr.join('')}`);
    const a = await Rackboot.start(nsA, cli, ia.config, ia.dataDir);
    await serving(a);
    const b = await Rackboot.start(nsB, cli, ib.config, ib.dataDir);
    await serving(b);
    expect(b.lines.find((l) => l.msg === 'dhcpv6 serving')?.answering).toBe(false);

    const run = perf.spawn('perfdhcp', ['-6', '-l', rig.ifname.perf, '-r', '20', '-R', '100', '-p', '10']);
    const runDone = new Promise<void>((r) => run.once('exit', () => r()));
    const repliesOf = (rb: Rackboot) => rb.lines.filter((l) => l.msg === 'dhcpv6 reply' && l.reply === 'REPLY').length;
    await waitFor(() => repliesOf(a) >= 20, 15_000, () => `a sent ${repliesOf(a)} Replies`);
    const before = { a: scrapeMetrics(nsA, a, SCRAPE_TOKEN), b: scrapeMetrics(nsB, b, SCRAPE_TOKEN) };
    expect([before.a.get('dhcpv6_segment_answering'), before.b.get('dhcpv6_segment_answering')]).toEqual([1, 0]);
    // One appliance answers both families on the segment.
    expect([before.a.get('dhcp_segment_answering'), before.b.get('dhcp_segment_answering')]).toEqual([1, 0]);
    expect(before.b.get('dhcpv6_drops_standby')).toBeGreaterThan(0);
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    await exited(a.proc);
    await waitFor(() => repliesOf(b) >= 20, 15_000, () => `b sent ${repliesOf(b)} Replies after the kill`);
    await runDone;
    const after = scrapeMetrics(nsB, b, SCRAPE_TOKEN);
    expect(after.get('dhcpv6_segment_answering')).toBe(1);
    expect(after.get('dhcpv6_segment_takeovers_total')).toBe(1);
    b.proc.kill('SIGTERM');
    await exited(b.proc);
    cap.kill('SIGINT');
    await exited(cap);

    const fromServers = dhcpv6FromPcap(pcap).filter((m) => m.type === Msg6.ADVERTISE || m.type === Msg6.REPLY);
    const fromA = fromServers.filter((m) => m.options.serverId?.mac === MAC.a);
    const fromB = fromServers.filter((m) => m.options.serverId?.mac === MAC.b);
    expect(fromA.length + fromB.length).toBe(fromServers.length);
    // One answerer at a time: nothing from b before the kill, nothing from a after it.
    expect(fromB.filter((m) => m.at < killedAt).length).toBe(0);
    expect(fromA.filter((m) => m.at > killedAt + 50).length).toBe(0);
    const replies = fromServers.filter((m) => m.type === Msg6.REPLY);
    const firstReplyB = Math.min(...replies.filter((m) => m.options.serverId?.mac === MAC.b).map((m) => m.at));
    console.log(`from a: ${fromA.length}, from b: ${fromB.length}; b's first Advertise ${Math.round(Math.min(...fromB.map((m) => m.at)) - killedAt)} ms and first Reply ${Math.round(firstReplyB - killedAt)} ms after the kill`);
    expect(firstReplyB - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);

    const givenTo = new Map<string, string>(); // address -> client
    const lastOf = new Map<string, string>(); // client -> address
    for (const r of replies) {
      const client = r.options.clientId!.mac ?? `duid:${r.options.clientId!.raw.toString('hex')}`;
      const address = r.options.iaNa[0]?.addresses.find((ad) => ad.valid > 0)?.address;
      if (!address) continue;
      const other = givenTo.get(address);
      expect(other === undefined || other === client, `${address} given to ${other} and to ${client}`).toBe(true);
      givenTo.set(address, client);
      lastOf.set(client, address);
    }
    expect(lastOf.size).toBeGreaterThanOrEqual(20);

    const s = new PsqlSession(conninfo);
    try {
      await expectBoundInPostgres(s, 'dhcpv6_leases', lastOf);
    } finally {
      await s.close();
    }
  }, 150_000);
});
