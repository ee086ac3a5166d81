// The disk under the lease store fills up while `rackboot serve` hands out
// leases. The data directory is a small tmpfs this test mounts; a filler
// file takes the last byte. Expected: the daemon stays up and keeps
// answering HTTP and every DISCOVER, clients that already hold a lease are
// ACKed for no longer than the store keeps it, no client is ACKed an address
// the store did not keep, the database is intact, and leasing resumes once
// space is freed. What clients were told is read from a packet capture.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../src/dhcp/codec.js';
import { missingPrerequisites, Netns, sh, uniqueSuffix } from '../helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, perfdhcpCounts, plug, Rackboot, tempDir, waitFor, writeConfig } from '../dhcp/netns/harness.js';
import { dhcpFromPcap, messageType } from './pcap.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/bin/tcpdump', '/usr/bin/curl', '/usr/bin/dd']);
const x = uniqueSuffix();
const NS = { sw: `rbhW${x}`, srv: `rbhS${x}`, perf: `rbhF${x}` };
const IF = { srv: `rbhq${x}`, perf: `rbhg${x}` };

const spaces: Netns[] = [];
let dir: string | undefined;
let mnt: string | undefined;
let rb: Rackboot | undefined;

const REFUSED = 'dhcp: store write failed; only replies whose writes were stored, or that need none, were sent';

/** perfdhcp as a relay agent; it draws client MACs from the first `clients` after its base MAC. */
function perfdhcp(perf: Netns, clients: number): { sent: number[]; received: number[] } {
  let out: string;
  try {
    out = perf.exec('perfdhcp', ['-4', '-l', IF.perf, '-r', '100', '-R', String(clients), '-p', '4'], { timeoutMs: 30_000 });
  } catch (err) {
    // perfdhcp exits 3 when packets were dropped; its report is still on stdout.
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out.includes('sent packets')) throw err;
  }
  return perfdhcpCounts(out);
}

describe.skipIf(why)('disk full under the lease store', () => {
  beforeAll(() => {
    dir = tempDir();
    mnt = join(dir, 'data');
    mkdirSync(mnt);
    sh('mount', ['-t', 'tmpfs', '-o', 'size=6m', `rbh-leases-${x}`, mnt]);
    spaces.push(makeSwitch(NS.sw), Netns.create(NS.srv), Netns.create(NS.perf));
    plug(spaces[0]!, spaces[1]!, IF.srv, `rbhQ${x}`, { cidr: '10.77.0.1/24' });
    plug(spaces[0]!, spaces[2]!, IF.perf, `rbhG${x}`, { cidr: '10.77.0.5/24' });
  });
  afterAll(async () => {
    if (rb && rb.proc.exitCode === null) rb.proc.kill('SIGKILL');
    for (const s of spaces) await s.destroy();
    if (mnt) try { sh('umount', ['-l', mnt]); } catch { /* not mounted */ }
    cleanupDir(dir);
  });

  it('keeps serving what it can, never ACKs an unstored lease, and resumes when space returns', async () => {
    const config = writeConfig(dir!, {
      interface: IF.srv, serverAddress: '10.77.0.1', dataDir: mnt,
      dhcp: { mode: 'full', subnet: '10.77.0.0/24', pool: { start: '10.77.0.20', end: '10.77.0.250' }, leaseSeconds: 600 },
      tftp: { enabled: false }, http: { listen: '10.77.0.1:18080' },
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
    const [, srv, perf] = spaces as [Netns, Netns, Netns];
    const pcap = join(dir!, 'full.pcap');
    const cap = perf.spawn('tcpdump', ['-i', IF.perf, '-n', '-U', '-w', pcap, 'udp', 'port', '67']);
    await new Promise((r) => setTimeout(r, 1_000));
    rb = await Rackboot.start(srv, buildCli(), config, mnt!);

    // Leases for the first 50 clients while there is space.
    const before = perfdhcp(perf, 50);
    expect(before.received[1]!).toBeGreaterThan(20);

    // Take every free byte.
    const fillFrom = Date.now();
    try { sh('dd', ['if=/dev/zero', `of=${join(mnt!, 'filler')}`, 'bs=64k'], { timeoutMs: 20_000 }); } catch { /* ENOSPC is the point */ }
    expect(sh('df', ['--output=avail', mnt!]).split('\n')[1]!.trim()).toBe('0');

    const fullFrom = Date.now();
    const full = perfdhcp(perf, 200);
    const fullUntil = Date.now();
    await waitFor(() => rb!.lines.some((l) => l.msg === REFUSED), 5_000, 'no store failure was logged');
    expect(JSON.stringify(rb.lines.find((l) => l.msg === REFUSED)!.err)).toMatch(/SQLITE_FULL|database or disk is full/);
    console.log(`disk full: sent ${full.sent.join('/')}, answered ${full.received.join('/')} (DISCOVER-OFFER/REQUEST-ACK)`);
    // Still up, still answering what needs no write.
    expect(rb.proc.exitCode).toBeNull();
    expect(srv.exec('curl', ['-sf', '--max-time', '5', 'http://10.77.0.1:18080/healthz'])).toContain('"ok":true');
    expect(srv.exec('curl', ['-sf', '--max-time', '5', 'http://10.77.0.1:18080/boot.ipxe'])).toMatch(/^#!ipxe/);

    rmSync(join(mnt!, 'filler'));
    const afterFrom = Date.now();
    const after = perfdhcp(perf, 200);
    const afterUntil = Date.now();
    console.log(`space back: sent ${after.sent.join('/')}, answered ${after.received.join('/')}`);
    expect(after.received[1]!, 'leases are handed out again once space is back').toBeGreaterThan(0);

    rb.proc.kill('SIGTERM');
    await new Promise<void>((r) => (rb!.proc.exitCode !== null ? r() : rb!.proc.once('exit', () => r())));
    cap.kill('SIGINT');
    await new Promise<void>((r) => (cap.exitCode !== null ? r() : cap.once('exit', () => r())));

    // What the daemon decided (its log, complete now it has exited), phase by phase.
    const dhcp = (from: number, until: number) => rb!.dhcpLines().filter((l) => Number(l.time) >= from && Number(l.time) <= until);
    const decidedWhileFull = dhcp(fullFrom, fullUntil);
    const refusals = decidedWhileFull.filter((l) => l.msg === REFUSED);
    // While there was space nothing was refused: the store's own files (the WAL) stay within the disk.
    expect(dhcp(0, fillFrom).filter((l) => l.msg === REFUSED || l.drop !== undefined)).toEqual([]);
    const storeFailed = decidedWhileFull.filter((l) => l.drop === 'store-failed');
    console.log(`daemon while full: ${decidedWhileFull.filter((l) => String(l.msg).startsWith('dhcp: offer')).length} offers, ${storeFailed.length} store-failed drops, ${refusals.length} error lines`);
    // Every DISCOVER it received was offered an address; what was refused was a REQUEST for a binding.
    expect(decidedWhileFull.filter((l) => l.type === 'DISCOVER' && !String(l.msg).startsWith('dhcp: offer'))).toEqual([]);
    expect(storeFailed.length).toBeGreaterThan(0);
    expect(storeFailed.every((l) => l.type === 'REQUEST')).toBe(true);
    // The cause is logged once, then once per 10 s: not once per packet.
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThanOrEqual(Math.ceil((fullUntil - fullFrom) / 10_000) + 1);
    // Space back: nothing refused, nothing dropped.
    expect(dhcp(afterFrom, afterUntil).filter((l) => l.drop !== undefined || l.msg === REFUSED)).toEqual([]);

    // What clients were told.
    const wire = dhcpFromPcap(pcap);
    const acks = wire.filter((p) => messageType(p) === MessageType.ACK);
    const whileFull = wire.filter((p) => p.at >= fullFrom && p.at <= fullUntil);
    const offersWhileFull = whileFull.filter((p) => messageType(p) === MessageType.OFFER);
    const acksWhileFull = whileFull.filter((p) => messageType(p) === MessageType.ACK);
    // A client that already held a lease is ACKed for what is left of it, never the full 600 s.
    const shortened = acksWhileFull.filter((a) => a.options.leaseTime! < 600);
    console.log(`on the wire while full: ${whileFull.filter((p) => messageType(p) === MessageType.DISCOVER).length} DISCOVERs, ${offersWhileFull.length} OFFERs, ${acksWhileFull.length} ACKs (${shortened.length} for the rest of a stored lease)`);
    expect(offersWhileFull.length).toBeGreaterThanOrEqual(full.received[0]!);
    expect(offersWhileFull.length).toBeGreaterThan(0);
    expect(shortened.length).toBeGreaterThan(0);

    const db = new Database(join(mnt!, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      // Every ACK on the wire, for its address and its whole lease time, is in the store (1 s for capture timing).
      const leases = new Map((db.prepare('SELECT mac, ip, state, expires_at FROM leases').all() as Array<{ mac: string; ip: string; state: string; expires_at: number }>).map((l) => [l.mac, l]));
      const unstored = acks.filter((a) => {
        const l = leases.get(a.mac);
        return l?.ip !== a.yiaddr || l.state !== 'bound' || l.expires_at + 1000 < a.at + a.options.leaseTime! * 1000;
      }).map((a) => `${a.mac} ${a.yiaddr} for ${a.options.leaseTime}s`);
      expect(unstored).toEqual([]);
    } finally {
      db.close();
    }
  }, 120_000);
});
