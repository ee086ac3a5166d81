// kill -9 the daemon again and again during a perfdhcp lease storm. What
// clients were told is read from a packet capture on the client side, not
// from the server: every ACKed address must still be bound to the client
// it was ACKed to, and no address may ever have been ACKed to two clients.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';
import { MessageType } from '../../src/dhcp/codec.js';
import { buildCli, cleanupDir, makeSwitch, plug, Rackboot, tempDir, writeConfig } from '../dhcp/netns/harness.js';
import { dhcpFromPcap, messageType } from './pcap.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/bin/tcpdump']);
const KILLS = 5;

// Both dhcp.leaseDurability classes survive kill -9: 'power' ACKs after an
// fdatasync, 'process' after the commit alone (in the page cache).
describe.skipIf(why).each(['power', 'process'] as const)('kill -9 during a lease storm (leaseDurability %s)', (leaseDurability) => {
  const x = uniqueSuffix();
  const NS = { sw: `rbhw${x}`, srv: `rbhs${x}`, perf: `rbhf${x}` };
  const IF = { srv: `rbhp${x}`, perf: `rbhf${x}` };
  const spaces: Netns[] = [];
  let dir: string | undefined;

  beforeAll(() => {
    dir = tempDir();
    spaces.push(makeSwitch(NS.sw), Netns.create(NS.srv), Netns.create(NS.perf));
    plug(spaces[0]!, spaces[1]!, IF.srv, `rbhP${x}`, { cidr: '10.77.0.1/24' });
    plug(spaces[0]!, spaces[2]!, IF.perf, `rbhF${x}`, { cidr: '10.77.0.5/24' });
  });
  afterAll(async () => {
    for (const s of spaces) await s.destroy();
    cleanupDir(dir);
  });

  it(`every ACKed lease survives ${KILLS} kills, and no address goes to two clients`, async () => {
    const cli = buildCli();
    const config = writeConfig(dir!, {
      interface: IF.srv, serverAddress: '10.77.0.1',
      dhcp: { mode: 'full', subnet: '10.77.0.0/24', pool: { start: '10.77.0.20', end: '10.77.0.200' }, leaseSeconds: 600, leaseDurability },
      tftp: { enabled: false }, http: { listen: '127.0.0.1:0' },
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
    const dataDir = join(dir!, 'data');
    const pcap = join(dir!, 'acks.pcap');
    const perf = spaces[2]!;
    // -U: every packet hits the file as it is captured, so the capture is complete when we read it.
    const cap = perf.spawn('tcpdump', ['-i', IF.perf, '-n', '-U', '-w', pcap, 'udp', 'port', '67', 'or', 'udp', 'port', '68']);
    await new Promise((r) => setTimeout(r, 1_000));

    const killedAfterAcks: number[] = [];
    for (let round = 0; round < KILLS; round++) {
      const rb = await Rackboot.start(spaces[1]!, cli, config, dataDir);
      const storm = perf.spawn('perfdhcp', ['-4', '-l', IF.perf, '-r', '60', '-R', '150', '-p', '5']);
      const stormDone = new Promise<void>((r) => storm.once('exit', () => r()));
      // Kill at a different point of the storm each round.
      await new Promise((r) => setTimeout(r, 700 + round * 450));
      killedAfterAcks.push(rb.lines.filter((l) => String(l.msg).startsWith('dhcp: ack')).length);
      rb.proc.kill('SIGKILL');
      await new Promise<void>((r) => (rb.proc.exitCode !== null || rb.proc.signalCode !== null ? r() : rb.proc.once('exit', () => r())));
      await stormDone;
    }
    // The daemon comes back on the store the last kill left behind.
    const last = await Rackboot.start(spaces[1]!, cli, config, dataDir);
    last.proc.kill('SIGTERM');
    await new Promise<void>((r) => last.proc.once('exit', () => r()));
    cap.kill('SIGINT');
    await new Promise<void>((r) => (cap.exitCode !== null ? r() : cap.once('exit', () => r())));

    const acks = dhcpFromPcap(pcap).filter((p) => messageType(p) === MessageType.ACK);
    console.log(`ACKs seen by clients: ${acks.length}; daemon-logged ACKs before each kill: ${killedAfterAcks.join(', ')}`);
    expect(acks.length).toBeGreaterThan(50);
    expect(killedAfterAcks.every((n) => n > 0)).toBe(true);

    const ackedTo = new Map<string, string>(); // ip -> mac
    const lastIpOf = new Map<string, string>(); // mac -> ip
    for (const a of acks) {
      const other = ackedTo.get(a.yiaddr);
      expect(other === undefined || other === a.mac, `${a.yiaddr} ACKed to ${other} and to ${a.mac}`).toBe(true);
      ackedTo.set(a.yiaddr, a.mac);
      lastIpOf.set(a.mac, a.yiaddr);
    }

    const db = new Database(join(dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const leases = new Map((db.prepare('SELECT mac, ip, state FROM leases').all() as Array<{ mac: string; ip: string; state: string }>).map((l) => [l.mac, l]));
      const lost: string[] = [];
      for (const [mac, ip] of lastIpOf) {
        const l = leases.get(mac);
        if (!l || l.ip !== ip || l.state !== 'bound') lost.push(`${mac} ACKed ${ip}, store has ${l ? `${l.ip} ${l.state}` : 'nothing'}`);
      }
      expect(lost).toEqual([]);
      const dupes = db.prepare("SELECT ip, COUNT(*) n FROM leases WHERE state='bound' GROUP BY ip HAVING n > 1").all();
      expect(dupes).toEqual([]);
    } finally {
      db.close();
    }
  }, 180_000);
});
