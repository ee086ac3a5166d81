// proxyDHCP: kea-dhcp4 in a second namespace owns the addresses; rackboot
// runs dhcp.mode proxy and adds only the PXE boot answers. A BIOS and a
// UEFI machine must still reach the kernel.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, parseMarker } from '../../src/lab/standin-init.js';
import type { DhcpPacket } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { timingsFor, wireDuring } from './timings.js';
import { SERVER, World, type VmRun } from './world.js';

const why = missingPrerequisites(E2E_PREREQUISITES);
const NODES = {
  bios: { name: 'proxy-bios', mac: '52:54:00:e2:01:01', role: 'controlplane' as const },
  uefi: { name: 'proxy-uefi', mac: '52:54:00:e2:01:02', role: 'worker' as const },
};
const KEA = '10.77.0.2';

describe.skipIf(why)('e2e, proxyDHCP beside kea-dhcp4', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'proxy', dhcpMode: 'proxy', nodes: Object.values(NODES), standin: inject('standin') });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  function checkProxyRun(run: VmRun, mac: string): void {
    const marker = parseMarker(run.serial);
    expect(marker, run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac });
    const dhcp = wireDuring(world, run).filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === mac);
    const fromKea = dhcp.filter((p) => p.srcIp === KEA && p.type === 5);
    const fromRackboot = dhcp.filter((p) => p.srcIp === SERVER && (p.type === 2 || p.type === 5));
    expect(fromKea.length, 'kea acknowledged no lease').toBeGreaterThan(0);
    expect(fromRackboot.length, 'rackboot sent no proxy answer').toBeGreaterThan(0);
    // A proxyDHCP answer never carries an address (PXE spec 2.1, §2.2.2).
    for (const p of fromRackboot) expect(p.yiaddr, 'rackboot handed out an address in proxy mode').toBe('0.0.0.0');
    expect(marker!.ip).toMatch(/^10\.77\.0\.1\d\d$/);
  }

  it('BIOS machine: kea leases, rackboot proxies, the kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'bios', mac: NODES.bios.mac, timeoutMs: 90_000, done: hasMarker });
    timingsFor('proxyDHCP', world, run);
    checkProxyRun(run, NODES.bios.mac);
  });

  it('UEFI machine: kea leases, rackboot proxies (port 4011 included), ipxe.efi over TFTP, the kernel runs', async () => {
    world.requireServices(['dhcp', 'tftp']);
    const run = await world.runVm({ firmware: 'uefi', mac: NODES.uefi.mac, timeoutMs: 150_000, done: hasMarker });
    timingsFor('proxyDHCP', world, run);
    checkProxyRun(run, NODES.uefi.mac);
    expect(wireDuring(world, run).some((p) => p.kind === 'tftp-rrq' && p.file.replace(/^\//, '') === 'ipxe.efi')).toBe(true);
    expect(readFileSync(join(world.dir, 'kea.log'), 'utf8')).toMatch(/DHCP4_LEASE_ALLOC/);
  });
});
