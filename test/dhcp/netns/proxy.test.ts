// Proxy mode beside a real address server: kea-dhcp4 in its own namespace
// hands out addresses; rackboot (built CLI, real sockets, 67 and 4011)
// answers only PXE clients with where to boot. PXE clients are scripted
// from the CLIENTS.md fixtures; the plain client is a real dhclient.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../../helpers/netns.js';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { ipxeEfiProxyRequest, MAC_EFI, MAC_OVMF, ovmfDiscover, ovmfProxyRequest, plainDiscover } from '../fixtures.js';
import { buildCli, CLIENT_SCRIPT, cleanupDir, exchange, makeSwitch, plug, Rackboot, readEvents, tempDir, waitFor, writeConfig } from './harness.js';

const why = missingPrerequisites(['/usr/sbin/kea-dhcp4', '/usr/sbin/dhclient']);
const x = uniqueSuffix();
const NS = { sw: `rbdw${x}`, srv: `rbds${x}`, kea: `rbdk${x}`, pxe: `rbdx${x}`, efi: `rbde${x}`, plain: `rbdn${x}` };
const IF = { srv: `rbdp${x}`, kea: `rbdk${x}`, pxe: `rbdx${x}`, efi: `rbde${x}`, plain: `rbdn${x}` };
const NODES = [
  { name: 'cp-1', mac: '52:54:00:12:34:01' },
  { name: 'ovmf-1', mac: '52:54:00:12:34:02' },
  { name: 'efi-1', mac: '52:54:00:12:34:11' },
];
const macText = (m: number[]) => m.map((b) => b.toString(16).padStart(2, '0')).join(':');

const spaces: Netns[] = [];
let dir: string | undefined;
let rb: Rackboot;
const ns = (name: string) => spaces.find((s) => s.name === name)!;

function parsed(bytes: Buffer): DhcpPacket {
  const p = parseDhcp(bytes);
  if (!p.ok) throw new Error(p.error.detail);
  return p.packet;
}

describe.skipIf(why)('proxy mode beside kea-dhcp4', () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    for (const name of Object.values(NS)) spaces.push(name === NS.sw ? makeSwitch(name) : Netns.create(name));
    const sw = ns(NS.sw);
    plug(sw, ns(NS.srv), IF.srv, `rbdP${x}`, { cidr: '10.77.0.1/24' });
    plug(sw, ns(NS.kea), IF.kea, `rbdK${x}`, { cidr: '10.77.0.2/24' });
    plug(sw, ns(NS.pxe), IF.pxe, `rbdX${x}`, { mac: macText(MAC_OVMF) });
    plug(sw, ns(NS.efi), IF.efi, `rbdE${x}`, { mac: macText(MAC_EFI) });
    plug(sw, ns(NS.plain), IF.plain, `rbdN${x}`, { mac: NODES[0]!.mac });
    // The scripted clients broadcast before they have an address, like firmware does.
    for (const [n, i] of [[NS.pxe, IF.pxe], [NS.plain, IF.plain]] as const) ns(n).exec('ip', ['route', 'add', '255.255.255.255', 'dev', i]);

    const keaConf = join(dir, 'kea.json');
    writeFileSync(keaConf, JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: [IF.kea], 'dhcp-socket-type': 'raw' },
        'lease-database': { type: 'memfile', persist: false },
        'valid-lifetime': 600,
        subnet4: [{ id: 1, subnet: '10.77.0.0/24', pools: [{ pool: '10.77.0.100 - 10.77.0.150' }] }],
        loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
      },
    }));
    const kea = ns(NS.kea).spawn('kea-dhcp4', ['-c', keaConf], { env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
    let keaOut = '';
    kea.stdout!.on('data', (d: Buffer) => (keaOut += d.toString()));
    kea.stderr!.on('data', (d: Buffer) => (keaOut += d.toString()));

    const config = writeConfig(dir, {
      interface: IF.srv, serverAddress: '10.77.0.1',
      dhcp: { mode: 'proxy' },
      http: { listen: '10.77.0.1:8080', publicUrl: 'http://10.77.0.1:8080' },
    }, NODES);
    rb = await Rackboot.start(ns(NS.srv), cli, config, join(dir, 'data'));
    await waitFor(() => /DHCP4_STARTED|DHCPSRV_CFGMGR_ADD_IFACE|server version .* started/.test(keaOut), 15_000, () => `kea did not start: ${keaOut}`);
  }, 240_000);

  afterAll(async () => {
    for (const s of spaces.reverse()) await s.destroy();
    rmSync(`/tmp/rbd-events.${IF.plain}`, { force: true });
    cleanupDir(dir);
  }, 60_000);

  it('rackboot listens on 67 and 4011', () => {
    const serving = rb.lines.find((l) => l.msg === 'dhcp serving');
    expect(serving?.ports).toEqual([67, 4011]);
  });

  it('an OVMF-style PXE client gets an address from kea and the boot file from rackboot, then its 4011 REQUEST answered on 4011', () => {
    const replies = exchange(ns(NS.pxe), { bindPort: 68, to: '255.255.255.255:67', bytes: ovmfDiscover(), waitMs: 3000 })
      .map((r) => ({ ...r, p: parsed(r.bytes) }));
    const fromKea = replies.find((r) => r.p.options.serverId === '10.77.0.2');
    const fromUs = replies.find((r) => r.p.options.serverId === '10.77.0.1');
    expect(fromKea?.p.yiaddr).toMatch(/^10\.77\.0\.1[0-5]\d$/);
    expect(fromUs).toBeDefined();
    const offer = fromUs!.p;
    expect(offer.options.messageType).toBe(2);
    expect(offer.yiaddr).toBe('0.0.0.0');
    expect(offer.siaddr).toBe('10.77.0.1');
    expect(offer.file).toBe('ipxe.efi');
    expect(offer.options.vendorClass).toBe('PXEClient');
    expect(offer.raw.get(43)).toEqual(Buffer.from([6, 1, 8, 255]));
    expect(offer.xid).toBe(parsed(ovmfDiscover()).xid);

    // OVMF then asks the proxy on 4011 from 4011, with the address kea gave it.
    const addr = fromKea!.p.yiaddr;
    ns(NS.pxe).exec('ip', ['addr', 'add', `${addr}/24`, 'dev', IF.pxe]);
    const acks = exchange(ns(NS.pxe), { bindPort: 4011, bindAddress: addr, to: '10.77.0.1:4011', bytes: ovmfProxyRequest(addr, '10.77.0.1') });
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ from: '10.77.0.1', port: 4011 });
    const ack = parsed(acks[0]!.bytes);
    expect(ack.options.messageType).toBe(5);
    expect(ack.file).toBe('ipxe.efi');
    expect(ack.options.serverId).toBe('10.77.0.1');
    expect(rb.query<{ message: string }>("SELECT message FROM events WHERE node='ovmf-1' AND kind='dhcp'").some((e) => e.message.startsWith('proxy-ack'))).toBe(true);
  });

  it('iPXE EFI\'s 4011 REQUEST from port 68 is answered on 68 with the script URL', () => {
    ns(NS.efi).exec('ip', ['addr', 'add', '10.77.0.160/24', 'dev', IF.efi]);
    const acks = exchange(ns(NS.efi), { bindPort: 68, bindAddress: '10.77.0.160', to: '10.77.0.1:4011', bytes: ipxeEfiProxyRequest('10.77.0.160') });
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ from: '10.77.0.1', port: 4011 });
    const ack = parsed(acks[0]!.bytes);
    expect(ack.file).toBe('http://10.77.0.1:8080/boot.ipxe');
    expect(ack.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
  });

  it('a plain dhclient gets its address from kea and nothing from rackboot', async () => {
    const replies = exchange(ns(NS.plain), { bindPort: 68, to: '255.255.255.255:67', bytes: plainDiscover([0x52, 0x54, 0, 0x12, 0x34, 1], 0x4242).fill(0x80, 10, 11) });
    expect(replies.map((r) => parsed(r.bytes).options.serverId)).toEqual(['10.77.0.2']);

    rmSync(`/tmp/rbd-events.${IF.plain}`, { force: true });
    ns(NS.plain).spawn('dhclient', ['-d', '-v', '-4', '-lf', join(dir!, 'plain.leases'), '-pf', join(dir!, 'plain.pid'), '-sf', CLIENT_SCRIPT, IF.plain]);
    await waitFor(() => readEvents(`/tmp/rbd-events.${IF.plain}`).some((e) => /^BOUND 10\.77\.0\.1[0-5]\d$/.test(e)), 30_000, 'dhclient bound by kea');
    const ours = rb.dhcpLines(NODES[0]!.mac);
    expect(ours.length).toBeGreaterThanOrEqual(2);
    expect(ours.every((l) => l.drop === 'not-pxe' || l.drop === 'other-server')).toBe(true);
  }, 60_000);
});
