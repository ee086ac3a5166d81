// The disk under the lease store fills up while `rackboot serve` hands out
// leases. The data directory is a small tmpfs this test mounts; a filler
// file takes the last byte. Expected: the daemon stays up and keeps
// answering HTTP, no client is ACKed an address the store did not keep,
// the database is intact, and leasing resumes once space is freed.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../src/dhcp/codec.js';
import { missingPrerequisites, Netns, sh, uniqueSuffix } from '../helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, Rackboot, tempDir, waitFor, writeConfig } from '../dhcp/netns/harness.js';
import { dhcpFromPcap, messageType } from './pcap.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/bin/tcpdump', '/usr/bin/curl', '/usr/bin/dd']);
const x = uniqueSuffix();
const NS = { sw: `rbhW${x}`, srv: `rbhS${x}`, perf: `rbhF${x}` };
const IF = { srv: `rbhq${x}`, perf: `rbhg${x}` };

const spaces: Netns[] = [];
let dir: string | undefined;
let mnt: string | undefined;
let rb: Rackboot | undefined;

function perfdhcp(perf: Netns, clients: number): { sent: number[]; received: number[] } {
  let out: string;
  try {
    out = perf.exec('perfdhcp', ['-4', '-l', IF.perf, '-r', '100', '-R', String(clients), '-p', '4'], { timeoutMs: 30_000 });
  } catch (err) {
    // perfdhcp exits 3 when packets were dropped; its report is still on stdout.
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out.includes('sent packets')) throw err;
  }
  return {
    sent: [...out.matchAll(/sent packets: (\d+)/g)].map((m) => Number(m[1])),
    received: [...out.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1])),
  };
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

    // Take every free byte.
    try { sh('dd', ['if=/dev/zero', `of=${join(mnt!, 'filler')}`, 'bs=64k'], { timeoutMs: 20_000 }); } catch { /* ENOSPC is the point */ }
    expect(sh('df', ['--output=avail', mnt!]).split('\n')[1]!.trim()).toBe('0');

    const full = perfdhcp(perf, 200);
    await waitFor(() => rb!.lines.some((l) => l.msg === 'dhcp: store write failed; no replies sent for this batch'), 5_000, 'no store failure was logged');
    const failure = rb.lines.find((l) => l.msg === 'dhcp: store write failed; no replies sent for this batch')!;
    expect(JSON.stringify(failure.err)).toMatch(/SQLITE_FULL|database or disk is full/);
    console.log(`disk full: sent ${full.sent.join('/')}, answered ${full.received.join('/')} (DISCOVER-OFFER/REQUEST-ACK)`);
    expect(full.received[0]!, 'DISCOVERs went unanswered while the disk was full').toBeLessThan(full.sent[0]!);
    // Still up, still answering what needs no write.
    expect(rb.proc.exitCode).toBeNull();
    expect(srv.exec('curl', ['-sf', '--max-time', '5', 'http://10.77.0.1:18080/healthz'])).toContain('"ok":true');
    expect(srv.exec('curl', ['-sf', '--max-time', '5', 'http://10.77.0.1:18080/boot.ipxe'])).toMatch(/^#!ipxe/);

    rmSync(join(mnt!, 'filler'));
    const after = perfdhcp(perf, 200);
    console.log(`space back: sent ${after.sent.join('/')}, answered ${after.received.join('/')}`);
    expect(after.received[1]!, 'leases are handed out again once space is back').toBeGreaterThan(0);
    expect(after.received).toEqual(after.sent);

    rb.proc.kill('SIGTERM');
    await new Promise<void>((r) => (rb!.proc.exitCode !== null ? r() : rb!.proc.once('exit', () => r())));
    cap.kill('SIGINT');
    await new Promise<void>((r) => (cap.exitCode !== null ? r() : cap.once('exit', () => r())));

    const acks = dhcpFromPcap(pcap).filter((p) => messageType(p) === MessageType.ACK);
    expect(acks.length).toBeGreaterThan(0);
    const db = new Database(join(mnt!, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const leases = new Map((db.prepare('SELECT mac, ip, state FROM leases').all() as Array<{ mac: string; ip: string; state: string }>).map((l) => [l.mac, l]));
      const lastIpOf = new Map(acks.map((a) => [a.mac, a.yiaddr]));
      const unstored = [...lastIpOf].filter(([mac, ip]) => leases.get(mac)?.ip !== ip || leases.get(mac)?.state !== 'bound');
      expect(unstored).toEqual([]);
    } finally {
      db.close();
    }
  }, 120_000);
});
