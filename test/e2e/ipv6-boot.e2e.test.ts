// IPv6 netboot on real OVMF (issue 23 item 2). The segment is dual stack:
// rackboot serves DHCPv4 (full) and, with dhcpv6.enabled, DHCPv6 and
// managed router advertisements. Each case: DHCPv6 Solicit/Advertise/
// Request/Reply with option 59, the NBP fetched over IPv6, then iPXE's own
// DHCP and the stand-in kernel's marker (where the case stops).
// OVMF with IPv4 PXE switched off runs "UEFI PXEv6" first; option 59 is
// tftp://[SERVER6]/snponly.efi. iPXE then takes its address by DHCPv4 on
// this dual-stack link: IPv4 boot keeps working with DHCPv6 on.
// OVMF with IPv4 and PXEv6 switched off runs "UEFI HTTPv6" alone; option 59
// is http://[SERVER6]:8080/ipxe/snponly.efi with the vendor class
// HTTPClient, fetched over IPv6. It needs a boot menu wait (see qemuArgs'
// http6: edk2 2022.11's HTTP boot does not wait for duplicate address
// detection of its link-local address).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, parseMarker } from '../../src/lab/standin-init.js';
import { OVMF_CODE_4M, OVMF_VARS_4M } from '../../src/lab/qemu.js';
import { Msg6 } from '../../src/dhcpv6/codec.js';
import type { DhcpPacket, Dhcpv6Wire, HttpGet, TftpRequest } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { kernelRequests, timingsFor, wireDuring } from './timings.js';
import { HTTP_PORT, SERVER6, World, type VmRun } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, OVMF_CODE_4M, OVMF_VARS_4M]);
const NBP = 'snponly.efi';

/** The firmware's DHCPv6 exchange as the capture shows it; returns the address the Reply bound. */
function checkDhcpv6(world: World, run: VmRun, vendor: 'PXEClient' | 'HTTPClient', arch: number, url: string): string {
  const v6 = wireDuring(world, run).filter((p): p is Dhcpv6Wire => p.kind === 'dhcpv6');
  const solicit = v6.find((p) => p.type === Msg6.SOLICIT && p.vendorClass?.startsWith(vendor));
  expect(solicit, `no ${vendor} Solicit; DHCPv6 types seen: ${v6.map((p) => p.type).join(',')}`).toBeDefined();
  expect(solicit!.clientArch).toBe(arch);
  const advertise = v6.find((p) => p.type === Msg6.ADVERTISE && p.transactionId === solicit!.transactionId);
  expect(advertise?.bootFileUrl).toBe(url);
  // edk2 HttpBootDhcp6.c takes an Advertise as an HTTP-boot offer only with this vendor class.
  if (vendor === 'HTTPClient') expect(advertise?.vendorClass).toBe('HTTPClient');
  expect(advertise?.addresses[0]).toMatch(/^2001:db8:77::/);
  const req = v6.find((p) => p.type === Msg6.REQUEST && p.at >= advertise!.at && p.vendorClass?.startsWith(vendor));
  expect(req, 'the firmware sent no Request').toBeDefined();
  const reply = v6.find((p) => p.type === Msg6.REPLY && p.transactionId === req!.transactionId);
  expect(reply?.bootFileUrl).toBe(url);
  expect(reply?.addresses).toEqual(advertise!.addresses);
  return reply!.addresses[0]!;
}

const isFirmwareDhcp = (p: DhcpPacket) => p.type === 1 && /^(PXEClient|HTTPClient)/.test(p.vendorClass ?? '') && p.userClass !== 'iPXE';
/** busybox udhcpc names itself in option 60 ("udhcp 1.35.0"). */
const isKernelDhcp = (p: DhcpPacket) => p.type === 1 && (p.vendorClass ?? '').startsWith('udhcp');

/** After the NBP: iPXE's own DHCP (v4 on this dual-stack link, or v6), one kernel fetch, the stand-in's marker. */
function checkIpxeToKernel(world: World, run: VmRun, mac: string): void {
  const wire = wireDuring(world, run);
  const dhcp4 = wire.filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === mac);
  const v6 = wire.filter((p): p is Dhcpv6Wire => p.kind === 'dhcpv6');
  expect(dhcp4.some((p) => p.type === 1 && p.userClass === 'iPXE') || v6.some((p) => p.userClass === 'iPXE'), 'the NBP did no DHCP of its own: iPXE did not start').toBe(true);
  // Three clients share this MAC: the firmware (vendor class PXEClient or
  // HTTPClient, no user class), iPXE (user class iPXE) and the stand-in
  // kernel's udhcpc. The kernel's DISCOVER is in the capture (the case
  // waited for it), so the capture covers the whole run; the firmware's
  // own DHCPv4 would come before it, had "UEFI PXEv6" failed and OVMF
  // gone on to its HTTPv4 entry.
  expect(dhcp4.some(isKernelDhcp), 'the stand-in kernel\'s own DHCPv4 DISCOVER is not in the capture').toBe(true);
  expect(dhcp4.filter(isFirmwareDhcp).map((p) => p.vendorClass), 'the firmware itself fell back to DHCPv4').toEqual([]);
  // Dual stack: rackboot's DHCPv4 still leases to iPXE with DHCPv6 on.
  expect(dhcp4.some((p) => p.type === 5 && p.yiaddr.startsWith('10.77.0.')), 'no DHCPv4 ACK for iPXE').toBe(true);
  expect(kernelRequests(world, run).filter((r) => r.status === 200)).toHaveLength(1);
  expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac });
}

/** Waits until the stand-in's own DHCPv4 DISCOVER, the last thing before its marker, is in the capture. */
async function waitForKernelDhcp(world: World, mac: string): Promise<void> {
  await world.captureUntil((wire) => wire.some((p) => p.kind === 'dhcp' && p.mac === mac && isKernelDhcp(p)), 10_000);
}

describe.skipIf(why)('e2e, UEFI PXEv6 and HTTPv6 (DHCPv6, TFTP and HTTP over IPv6), dual stack', () => {
  const node = { name: 'pxe6', mac: '52:54:00:e2:06:01', role: 'worker' as const };
  const http6 = { name: 'http6', mac: '52:54:00:e2:06:02', role: 'worker' as const };
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'ipv6-boot', dhcpMode: 'full', efiBinary: NBP, nodes: [node, http6], standin: inject('standin'), ipv6: true });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('OVMF PXEv6 → Solicit/Advertise/Request/Reply with option 59 → TFTP snponly.efi over IPv6 → iPXE → the kernel runs', async () => {
    world.requireServices(['dhcp', 'tftp']);
    // Generous: on a loaded 2-core host this took 84 s once (28 s unloaded).
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'pxe6', mac: node.mac, timeoutMs: 160_000, done: hasMarker });
    expect(run.doneAt, `no marker within the time; serial: ${run.serial.slice(-1500)}`).toBeDefined();
    await waitForKernelDhcp(world, node.mac);
    timingsFor('UEFI PXEv6', world, run);
    const address = checkDhcpv6(world, run, 'PXEClient', 7, `tftp://[${SERVER6}]/${NBP}`);
    // TFTP over IPv6, from the address DHCPv6 gave; never over IPv4.
    const rrqs = wireDuring(world, run).filter((p): p is TftpRequest => p.kind === 'tftp-rrq');
    expect(rrqs.some((r) => r.file === NBP && r.srcIp === address), `RRQs: ${JSON.stringify(rrqs)}`).toBe(true);
    expect(rrqs.some((r) => !r.srcIp.includes(':')), 'the firmware used TFTP over IPv4').toBe(false);
    checkIpxeToKernel(world, run, node.mac);
  }, 200_000);

  it('OVMF HTTPv6 → HTTPClient Solicit/Advertise/Request/Reply with option 59 → GET snponly.efi over IPv6 → iPXE → the kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http6', mac: http6.mac, timeoutMs: 160_000, done: hasMarker });
    expect(run.doneAt, `no marker within the time; serial: ${run.serial.slice(-1500)}`).toBeDefined();
    await waitForKernelDhcp(world, http6.mac);
    timingsFor('UEFI HTTPv6', world, run);
    expect(run.serial, 'the firmware did not run its HTTPv6 boot option').toContain('Start HTTP Boot over IPv6');
    const address = checkDhcpv6(world, run, 'HTTPClient', 16, `http://[${SERVER6}]:${HTTP_PORT}/ipxe/${NBP}`);
    // The NBP over HTTP on IPv6, from the address DHCPv6 gave, as the URL said (no //, no redirect).
    const gets = wireDuring(world, run).filter((p): p is HttpGet => p.kind === 'http-get');
    expect(gets.filter((g) => g.srcIp === address).map((g) => g.target), `GETs: ${JSON.stringify(gets)}`).toContain(`/ipxe/${NBP}`);
    expect(wireDuring(world, run).some((p) => p.kind === 'tftp-rrq'), 'the firmware used TFTP').toBe(false);
    checkIpxeToKernel(world, run, http6.mac);
  }, 200_000);
});
