// While the disk holds a lease commit's flush, the daemon keeps answering
// other clients, and the ACK that rests on the commit still waits for it.
// The store sits on a file system whose flushes the test holds (HeldDisk):
// a commit's write returns, its fdatasync waits until the release.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';
import { HeldDisk, heldDiskMissing } from '../helpers/held-disk.js';
import { MessageType, parseDhcp, type DhcpPacket } from '../../src/dhcp/codec.js';
import { buildCli, EXCHANGE, exchange, makeSwitch, plug, Rackboot, waitFor, writeConfig } from '../dhcp/netns/harness.js';
import { plainDiscover, plainRequest } from '../dhcp/fixtures.js';

const why = missingPrerequisites([]) ?? heldDiskMissing();
const x = uniqueSuffix();
const NS = { sw: `rblw${x}`, srv: `rbls${x}`, cli: `rblc${x}` };
const IF = { srv: `rblp${x}`, cli: `rblq${x}` };
const MAC_A = [0x52, 0x54, 0x00, 0x77, 0x00, 0x0a];
const MAC_B = [0x52, 0x54, 0x00, 0x77, 0x00, 0x0b];
const XID = { discoverA: 0x0a0a0001, requestA: 0x0a0a0002, discoverB: 0x0b0b0001 };

const spaces: Netns[] = [];
let disk: HeldDisk | undefined;

/** Both clients share one interface, whose MAC is neither's chaddr: they ask for broadcast replies. */
const withBroadcastFlag = (b: Buffer) => b.fill(0x80, 10, 11);

function replies(lines: string[], xid: number): DhcpPacket[] {
  return lines.flatMap((l) => {
    const p = parseDhcp(Buffer.from((JSON.parse(l) as { hex: string }).hex, 'hex'));
    return p.ok && p.packet.xid === xid ? [p.packet] : [];
  });
}

/** The daemon in full mode with its store in `dir` (on the held disk). */
async function startOnHeldDisk(dir: string, dhcp: Record<string, unknown> = {}): Promise<Rackboot> {
  const config = writeConfig(dir, {
    interface: IF.srv, serverAddress: '10.77.0.1',
    dhcp: { mode: 'full', subnet: '10.77.0.0/24', pool: { start: '10.77.0.20', end: '10.77.0.200' }, leaseSeconds: 600, ...dhcp },
    tftp: { enabled: false }, http: { listen: '127.0.0.1:0' },
  }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
  return Rackboot.start(spaces[1]!, buildCli(), config, join(dir, 'data'));
}

/** A DISCOVER from `mac` (an OFFER must come back): the address offered. */
function offeredTo(mac: number[], xid: number): string {
  const offer = exchange(spaces[2]!, { bindPort: 68, to: '255.255.255.255:67', bytes: withBroadcastFlag(plainDiscover(mac, xid)) })
    .map((r) => parseDhcp(r.bytes)).find((p) => p.ok && p.packet.xid === xid);
  expect(offer?.ok && offer.packet.options.messageType).toBe(MessageType.OFFER);
  return offer!.ok ? offer!.packet.yiaddr : '';
}

describe.skipIf(why)('a lease commit whose flush the disk holds', () => {
  beforeAll(() => {
    disk = HeldDisk.create();
    spaces.push(makeSwitch(NS.sw), Netns.create(NS.srv), Netns.create(NS.cli));
    plug(spaces[0]!, spaces[1]!, IF.srv, `rblP${x}`, { cidr: '10.77.0.1/24' });
    plug(spaces[0]!, spaces[2]!, IF.cli, `rblQ${x}`);
    spaces[2]!.exec('ip', ['route', 'add', '255.255.255.255', 'dev', IF.cli]);
  });
  afterAll(async () => {
    // Thawed first: a daemon waiting on the disk could not stop.
    disk?.release();
    for (const s of spaces) await s.destroy();
    disk?.destroy();
  });

  it('answers another client meanwhile, and sends the ACK only after the flush', async () => {
    const rb = await startOnHeldDisk(disk!.dir);
    const client = spaces[2]!;
    const yiaddr = offeredTo(MAC_A, XID.discoverA);

    disk!.hold();
    // A's REQUEST: its binding's commit now waits on the disk.
    const lines: string[] = [];
    const req = client.spawn(process.execPath, [
      EXCHANGE, '--bind-port', '68', '--to', '255.255.255.255:67', '--wait', '60000',
      '--hex', withBroadcastFlag(plainRequest(MAC_A, { server: '10.77.0.1', requested: yiaddr, xid: XID.requestA })).toString('hex'),
    ]);
    let buf = '';
    req.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    // Nothing about the REQUEST is logged before its flush; give it time to arrive.
    await new Promise((r) => setTimeout(r, 1500));

    // B's whole DISCOVER-OFFER happens while A's flush is held.
    const offerB = exchange(client, { bindPort: 68, to: '255.255.255.255:67', bytes: withBroadcastFlag(plainDiscover(MAC_B, XID.discoverB)), waitMs: 4000 })
      .map((r) => parseDhcp(r.bytes)).find((p) => p.ok && p.packet.xid === XID.discoverB);
    expect(offerB?.ok && offerB.packet.options.messageType, 'no OFFER to B while A\'s commit was held: the event loop waited for the disk').toBe(MessageType.OFFER);
    expect(replies(lines, XID.requestA), 'an ACK left before its binding reached the disk').toEqual([]);

    disk!.release();
    await waitFor(() => replies(lines, XID.requestA).length > 0, 20_000, 'no ACK to A after the disk was released');
    const ack = replies(lines, XID.requestA)[0]!;
    expect(ack.options.messageType).toBe(MessageType.ACK);
    expect(ack.yiaddr).toBe(yiaddr);
    expect(rb.lease('52:54:00:77:00:0a')).toMatchObject({ ip: yiaddr, state: 'bound' });
    rb.proc.kill('SIGTERM');
    await new Promise<void>((r) => (rb.proc.exitCode !== null ? r() : rb.proc.once('exit', () => r())));
  }, 120_000);

  // dhcp.leaseDurability: process: the ACK rests on the commit alone (in
  // the page cache, which kill -9 does not lose), so the held flush does not
  // hold it; test/hardening/crash-dhcp.test.ts checks the kill -9 half.
  it('with leaseDurability process, ACKs while the disk holds the flush', async () => {
    mkdirSync(join(disk!.dir, 'process'));
    const rb = await startOnHeldDisk(join(disk!.dir, 'process'), { leaseDurability: 'process' });
    const client = spaces[2]!;
    const yiaddr = offeredTo(MAC_B, XID.discoverB);
    disk!.hold();
    try {
      const ack = exchange(client, {
        bindPort: 68, to: '255.255.255.255:67', waitMs: 4000,
        bytes: withBroadcastFlag(plainRequest(MAC_B, { server: '10.77.0.1', requested: yiaddr, xid: XID.requestA })),
      }).map((r) => parseDhcp(r.bytes)).find((p) => p.ok && p.packet.xid === XID.requestA);
      expect(ack?.ok && ack.packet.options.messageType, 'no ACK while the flush was held: process durability still waited for the disk').toBe(MessageType.ACK);
    } finally {
      disk!.release();
    }
    // Read only after the release: a read of a page no longer cached (the host reclaims page cache on
    // its own) queues in the loop device behind the held writes, and this thread, which has to release
    // them, would wait on it for ever (seen on a CI run: the test process in pread, the daemon in fsync).
    expect(rb.lease('52:54:00:77:00:0b')).toMatchObject({ ip: yiaddr, state: 'bound' });
    rb.proc.kill('SIGTERM');
    await new Promise<void>((r) => (rb.proc.exitCode !== null ? r() : rb.proc.once('exit', () => r())));
  }, 120_000);
});
