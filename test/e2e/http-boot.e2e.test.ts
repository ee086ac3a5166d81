// UEFI HTTP boot (UEFI 2.x §24.7, EDK2's HttpBootDxe): OVMF with its PXE
// boot options switched off runs "UEFI HTTPv4" as a new machine would. It
// asks DHCP with vendor class HTTPClient (option 93 = 16), must get option
// 60 "HTTPClient" and a full http:// URL back, GETs the iPXE binary from
// the boot plane, and iPXE then follows the ordinary script path to the
// stand-in kernel. Once with rackboot owning addresses, once as proxyDHCP
// beside kea. Each case stops at the stand-in's marker.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, parseMarker } from '../../src/lab/standin-init.js';
import { OVMF_CODE_4M, OVMF_VARS_4M } from '../../src/lab/qemu.js';
import type { DhcpPacket, HttpGet } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { httpRequests, kernelRequests, scriptRequests, timingsFor, wireDuring } from './timings.js';
import { HTTP_PORT, SERVER, World, type VmRun } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, OVMF_CODE_4M, OVMF_VARS_4M]);
const NBP = 'snponly.efi';
const NBP_URL = `http://${SERVER}:${HTTP_PORT}/ipxe/${NBP}`;

/** What every HTTP-boot run must show on the wire and in rackboot's log. */
function checkHttpBoot(world: World, run: VmRun, mac: string): void {
  const wire = wireDuring(world, run);
  const dhcp = wire.filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === mac);
  const firmwareDiscover = dhcp.find((p) => p.type === 1 && p.vendorClass?.startsWith('HTTPClient'));
  expect(firmwareDiscover, 'the firmware sent no DISCOVER with vendor class HTTPClient: HTTP boot did not run').toBeDefined();
  expect(firmwareDiscover!.vendorClass).toMatch(/^HTTPClient:Arch:00016:/);
  // HttpBootDxe takes only an offer that says HTTPClient and carries a URL.
  const httpOffers = dhcp.filter((p) => p.type === 2 && p.srcIp === SERVER && p.vendorClass === 'HTTPClient');
  expect(httpOffers.length, 'rackboot sent no HTTPClient offer').toBeGreaterThan(0);
  for (const o of httpOffers) expect(o.file).toBe(NBP_URL);
  expect(wire.some((p) => p.kind === 'tftp-rrq'), 'an HTTP boot client was sent to TFTP').toBe(false);

  // The firmware's GET (EDK2 sends no User-Agent of iPXE's kind) for exactly the offered path, no double slash.
  const gets = wire.filter((p): p is HttpGet => p.kind === 'http-get');
  const nbpGets = gets.filter((g) => g.target === `/ipxe/${NBP}`);
  expect(nbpGets.length, `no HTTP GET of the NBP; GETs seen: ${gets.map((g) => g.target).join(', ')}`).toBeGreaterThan(0);
  expect(nbpGets.every((g) => !/iPXE/.test(g.userAgent ?? ''))).toBe(true);
  expect(gets.some((g) => g.target.includes('//'))).toBe(false);
  // Served whole, at once: 200, never a redirect.
  const served = httpRequests(world).filter((r) => r.at >= run.startedAt && r.url === `/ipxe/${NBP}`);
  expect(served.length).toBeGreaterThan(0);
  expect(served.every((r) => r.status === 200 || r.status === undefined)).toBe(true);
  expect(served.some((r) => r.status === 200)).toBe(true);
  // What the firmware was sent, asked again the same way: the whole file at once, its size up front, EFI media type.
  const head = world.ns.exec('curl', ['-sS', '-m', '5', '-o', '/dev/null', '-D', '-', NBP_URL]);
  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  expect(head).toMatch(/^content-length: \d+\r?$/im);
  expect(head).toMatch(/^content-type: application\/efi\r?$/im);
  expect(head).not.toMatch(/^transfer-encoding:/im);

  // Then iPXE's own DHCP gets the script, and the script the kernel.
  expect(dhcp.some((p) => p.type === 1 && p.userClass === 'iPXE'), 'the NBP did no DHCP of its own: iPXE did not start').toBe(true);
  expect(scriptRequests(world, run)).toHaveLength(1);
  expect(kernelRequests(world, run).filter((r) => r.status === 200)).toHaveLength(1);
  expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac });
}

describe.skipIf(why)('e2e, UEFI HTTP boot (IPv4), DHCP full mode', () => {
  const node = { name: 'http-full', mac: '52:54:00:e2:02:01', role: 'worker' as const };
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'http-boot-full', dhcpMode: 'full', efiBinary: NBP, nodes: [node], standin: inject('standin') });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('OVMF HTTPv4 → HTTPClient offer with the NBP URL → GET snponly.efi → iPXE → script → the kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http', mac: node.mac, timeoutMs: 150_000, done: hasMarker });
    timingsFor('UEFI HTTPv4', world, run);
    checkHttpBoot(world, run, node.mac);
    const acks = wireDuring(world, run).filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.type === 5 && p.mac === node.mac);
    expect(acks.some((a) => a.vendorClass === 'HTTPClient' && a.yiaddr.startsWith('10.77.0.'))).toBe(true);
  });
});

describe.skipIf(why)('e2e, UEFI HTTP boot (IPv4), proxyDHCP beside kea-dhcp4', () => {
  const node = { name: 'http-proxy', mac: '52:54:00:e2:02:02', role: 'worker' as const };
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'http-boot-proxy', dhcpMode: 'proxy', efiBinary: NBP, nodes: [node], standin: inject('standin') });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('kea leases, rackboot adds the HTTPClient answer without an address, the kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http', mac: node.mac, timeoutMs: 150_000, done: hasMarker });
    timingsFor('UEFI HTTPv4 proxyDHCP', world, run);
    checkHttpBoot(world, run, node.mac);
    const fromRackboot = wireDuring(world, run).filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === node.mac && p.srcIp === SERVER && (p.type === 2 || p.type === 5));
    for (const p of fromRackboot) expect(p.yiaddr, 'rackboot handed out an address in proxy mode').toBe('0.0.0.0');
  });
});
