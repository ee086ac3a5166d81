import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../../src/dhcp/answer.js';
import {
  ipxeBiosDiscover, ipxeBiosRequest, ipxeEfiDiscover, MAC_BIOS, MAC_UNKNOWN, message, ovmfDiscover, plainDiscover, plainRequest,
} from '../fixtures.js';
import { makeContext, node, NODES, PUBLIC_URL, SERVER, settingsWith, type TestContext } from '../context.js';

const CLIENT = { address: '0.0.0.0', port: 68 };
let ctx: TestContext;
let metrics: DhcpMetrics;
const dirs: string[] = [];

afterEach(() => {
  ctx?.store.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function send(buf: Buffer, from = CLIENT): { reply?: DhcpPacket; to?: { address: string; port: number } } {
  const out = processDatagram(ctx, metrics, buf, from, 'dhcp');
  if (!out) return {};
  const p = parseDhcp(out.bytes);
  if (!p.ok) throw new Error(`our reply does not parse: ${p.error.detail}`);
  return { reply: p.packet, to: out.to };
}

function setup(dhcp = {}, opts: Parameters<typeof makeContext>[1] = {}) {
  ctx = makeContext(settingsWith(dhcp), opts);
  metrics = newMetrics();
}

describe('full mode: reservations and boot files', () => {
  it('offers the inventory address; iPXE gets the script URL (no loop) and 175/176 = 1', () => {
    setup();
    const { reply, to } = send(ipxeBiosDiscover());
    expect(reply?.options.messageType).toBe(2);
    expect(reply?.yiaddr).toBe('10.77.0.11');
    expect(reply?.options.serverId).toBe(SERVER);
    expect(reply?.options.subnetMask).toBe('255.255.255.0');
    expect(reply?.options.leaseTime).toBe(3600);
    expect(reply?.file).toBe(`${PUBLIC_URL}/boot.ipxe`);
    expect(reply?.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
    expect(to).toEqual({ address: '255.255.255.255', port: 68 });
    expect(metrics.offers).toBe(1);
  });

  it('gives a BIOS PXE ROM without the iPXE user class undionly.kpxe, and OVMF the EFI binary', () => {
    setup({ efiBinary: 'snponly.efi' });
    const bios = ipxeBiosDiscover();
    // Strip option 77 by turning it into a pad-free unknown option 224.
    const at = bios.indexOf(Buffer.from([77, 4, 0x69, 0x50, 0x58, 0x45]));
    bios[at] = 224;
    expect(send(bios).reply?.file).toBe('undionly.kpxe');
    const ovmf = send(ovmfDiscover()).reply;
    expect(ovmf?.file).toBe('snponly.efi');
    expect(ovmf?.siaddr).toBe(SERVER);
    expect(ovmf?.options.ipxe).toBeUndefined();
  });

  it('ACKs a REQUEST only after the lease is in the store, and records an event on the node', () => {
    setup();
    send(ipxeBiosDiscover());
    const { reply } = send(ipxeBiosRequest(SERVER, '10.77.0.11'));
    expect(reply?.options.messageType).toBe(5);
    expect(reply?.yiaddr).toBe('10.77.0.11');
    const row = ctx.store.db.prepare('SELECT * FROM leases WHERE mac=?').get('52:54:00:12:34:01') as Record<string, unknown>;
    expect(row).toMatchObject({ ip: '10.77.0.11', state: 'bound', expires_at: ctx.clock.t + 3600_000 });
    expect(ctx.store.events({ node: 'cp-1' }).some((e) => e.kind === 'dhcp' && e.message.includes('ack 10.77.0.11'))).toBe(true);
    expect(ctx.store.getNode('cp-1')?.lastSeen).toBe(ctx.clock.t);
  });

  it('keeps the client\'s host name without NUL, so either lease book (SQLite or PostgreSQL) can hold it', () => {
    setup();
    send(ipxeBiosDiscover());
    const request = ipxeBiosRequest(SERVER, '10.77.0.11');
    // Option 12 before the END byte; RFC 2132 §2 only lets the codec drop trailing NULs.
    const withName = Buffer.concat([request.subarray(0, request.lastIndexOf(255)), Buffer.from([12, 7, ...Buffer.from('no\0de1\0', 'latin1'), 255])]);
    expect(send(withName).reply?.options.messageType).toBe(5);
    expect(ctx.store.db.prepare('SELECT hostname FROM leases WHERE mac=?').get('52:54:00:12:34:01')).toEqual({ hostname: 'node1' });
  });

  it('ignores a REQUEST for another server and NAKs a wrong address', () => {
    setup();
    expect(send(ipxeBiosRequest('10.77.0.254', '10.77.0.11')).reply).toBeUndefined();
    expect(metrics.drops['other-server']).toBe(1);
    const { reply, to } = send(ipxeBiosRequest(SERVER, '10.77.0.99'));
    expect(reply?.options.messageType).toBe(6);
    expect(to?.address).toBe('255.255.255.255');
    expect(metrics.naks).toBe(1);
  });

  it('renews by unicast to ciaddr, NAKs INIT-REBOOT on the wrong network, stays silent with no record', () => {
    setup();
    send(ipxeBiosRequest(SERVER, '10.77.0.11'));
    const renew = send(plainRequest(MAC_BIOS, { ciaddr: '10.77.0.11' }), { address: '10.77.0.11', port: 68 });
    expect(renew.reply?.options.messageType).toBe(5);
    expect(renew.to).toEqual({ address: '10.77.0.11', port: 68 });
    expect(send(plainRequest(MAC_BIOS, { requested: '192.168.1.5' })).reply?.options.messageType).toBe(6);
    expect(send(plainRequest(MAC_UNKNOWN, { requested: '10.77.0.77' })).reply).toBeUndefined();
    expect(metrics.drops['no-record']).toBe(1);
  });

  it('gives local-disk nodes an address but no boot file when bootFileForInstalled is false', () => {
    setup({ bootFileForInstalled: false });
    ctx.store.setState('cp-1', 'installed', 'test', { markedForInstall: false });
    const { reply } = send(ipxeBiosDiscover());
    expect(reply?.yiaddr).toBe('10.77.0.11');
    expect(reply?.file).toBe('');
    expect(reply?.options.bootfile).toBeUndefined();
  });

  it('answers INFORM without yiaddr or lease time, to ciaddr', () => {
    setup();
    const { reply, to } = send(message(8, MAC_UNKNOWN, { ciaddr: '10.77.0.200' }));
    expect(reply?.options.messageType).toBe(5);
    expect(reply?.yiaddr).toBe('0.0.0.0');
    expect(reply?.options.leaseTime).toBeUndefined();
    expect(to).toEqual({ address: '10.77.0.200', port: 68 });
  });
});

describe('full mode: pool, unknown machines, decline, release, restart', () => {
  it('answers nothing to unknown machines without a pool, but records them as discovered', () => {
    setup();
    expect(send(ipxeEfiDiscoverUnknown()).reply).toBeUndefined();
    expect(metrics.drops['no-address']).toBe(1);
    expect(ctx.store.listDiscovered()[0]).toMatchObject({ mac: '52:54:00:aa:bb:cc', arch: '7 (x64 UEFI)', vendorClass: 'PXEClient:Arch:00007:UNDI:003010', userClass: 'iPXE', uuid: '11223344-5566-7788-99aa-bbccddeeff01' });
  });

  it('gives unknown machines a pool address and a boot file, never an inventory reservation', () => {
    setup({ pool: { start: '10.77.0.11', end: '10.77.0.13' } });
    const { reply } = send(ipxeEfiDiscoverUnknown());
    // .11 and .12 are reserved by cp-1 and ovmf-1.
    expect(reply?.yiaddr).toBe('10.77.0.13');
    expect(reply?.file).toBe(`${PUBLIC_URL}/boot.ipxe`);
    expect(send(plainDiscover([2, 0, 0, 0, 0, 1])).reply).toBeUndefined(); // .13 is held for the first offer
  });

  it('quarantines a declined address and offers another', () => {
    setup({ pool: { start: '10.77.0.100', end: '10.77.0.101' } });
    const mac = [2, 0, 0, 0, 0, 7];
    expect(send(plainDiscover(mac)).reply?.yiaddr).toBe('10.77.0.100');
    expect(send(plainRequest(mac, { server: SERVER, requested: '10.77.0.100' })).reply?.options.messageType).toBe(5);
    send(message(4, mac, { server: SERVER, requested: '10.77.0.100' }));
    expect(metrics.declines).toBe(1);
    expect(send(plainDiscover(mac)).reply?.yiaddr).toBe('10.77.0.101');
    ctx.clock.t += 601_000;
    ctx.leases.sweep();
    expect(ctx.leases.all().some((l) => l.state === 'declined')).toBe(false);
  });

  it('reclaims an expired lease for another machine, and keeps a released address for its owner', () => {
    setup({ pool: { start: '10.77.0.100', end: '10.77.0.100' }, leaseSeconds: 60 });
    const a = [2, 0, 0, 0, 0, 0xa];
    const b = [2, 0, 0, 0, 0, 0xb];
    send(plainDiscover(a));
    send(plainRequest(a, { requested: '10.77.0.100', server: SERVER }));
    send(message(7, a, { server: SERVER, ciaddr: '10.77.0.100' }));
    expect(metrics.releases).toBe(1);
    expect(send(plainDiscover(a)).reply?.yiaddr).toBe('10.77.0.100');
    send(plainRequest(a, { requested: '10.77.0.100', server: SERVER }));
    expect(send(plainDiscover(b)).reply).toBeUndefined();
    ctx.clock.t += 61_000;
    expect(ctx.leases.sweep()).toBe(1);
    ctx.offers.forget('02:00:00:00:00:0a');
    expect(send(plainDiscover(b)).reply?.yiaddr).toBe('10.77.0.100');
    expect(send(plainRequest(b, { requested: '10.77.0.100', server: SERVER })).reply?.options.messageType).toBe(5);
    expect(ctx.leases.get('02:00:00:00:00:0b')?.state).toBe('bound');
    expect(ctx.leases.get('02:00:00:00:00:0a')).toBeUndefined();
  });

  it('keeps leases across a restart (a new Store on the same file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rbd-leases-'));
    dirs.push(dir);
    const file = join(dir, 'rackboot.db');
    setup({ pool: { start: '10.77.0.100', end: '10.77.0.110' } }, { file });
    const mac = [2, 0, 0, 0, 0, 0x33];
    send(plainDiscover(mac, 0x33, [[50, [10, 77, 0, 105]]]));
    send(plainRequest(mac, { requested: '10.77.0.105', server: SERVER }));
    ctx.store.close();
    setup({ pool: { start: '10.77.0.100', end: '10.77.0.110' } }, { file });
    expect(ctx.leases.get('02:00:00:00:00:33')).toMatchObject({ ip: '10.77.0.105', state: 'bound' });
    expect(send(plainDiscover(mac)).reply?.yiaddr).toBe('10.77.0.105');
    expect(send(plainDiscover([2, 0, 0, 0, 0, 0x34])).reply?.yiaddr).toBe('10.77.0.100');
  });
});

describe('relay (giaddr)', () => {
  const relays = [{ subnet: '10.88.0.0/24', pool: { start: '10.88.0.100', end: '10.88.0.120' }, gateway: '10.88.0.1' }];

  it('answers to the relay on port 67 from the relayed subnet, with option 82 copied back last', () => {
    setup({ relays });
    const opt82 = [1, 3, 0x65, 0x74, 0x30, 2, 2, 0xbe, 0xef];
    const { reply, to } = send(withGiaddr(plainDiscover([2, 0, 0, 0, 0, 0x88], 9, [[82, opt82]]), '10.88.0.1'), { address: '10.88.0.1', port: 67 });
    expect(to).toEqual({ address: '10.88.0.1', port: 67 });
    expect(reply?.yiaddr).toBe('10.88.0.100');
    expect(reply?.giaddr).toBe('10.88.0.1');
    expect(reply?.options.routers).toEqual(['10.88.0.1']);
    expect(reply?.raw.get(82)).toEqual(Buffer.from(opt82));
    expect([...reply!.raw.keys()].at(-1)).toBe(82);
  });

  it('drops a relayed packet from a subnet it does not know', () => {
    setup({ relays });
    expect(send(withGiaddr(plainDiscover([2, 0, 0, 0, 0, 0x89]), '10.99.0.1')).reply).toBeUndefined();
    expect(metrics.drops['unknown-relay']).toBe(1);
  });

  it('gives a relayed inventory node its reservation when it lies in the relay subnet', () => {
    setup({ relays }, { nodes: [...NODES, node('far-1', '02:00:00:00:00:90', '10.88.0.50')] });
    expect(send(withGiaddr(plainDiscover([2, 0, 0, 0, 0, 0x90]), '10.88.0.1')).reply?.yiaddr).toBe('10.88.0.50');
  });
});

function withGiaddr(buf: Buffer, giaddr: string): Buffer {
  buf.set(giaddr.split('.').map(Number), 24);
  return buf;
}

function ipxeEfiDiscoverUnknown(): Buffer {
  const b = ipxeEfiDiscover();
  b.set([0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc], 28);
  return b;
}
