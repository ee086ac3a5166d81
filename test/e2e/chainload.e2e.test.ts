// Chainloading: firmware that is not iPXE gets an iPXE binary over TFTP, and
// the DHCP that binary then sends (user class iPXE) gets the HTTP script,
// not the binary again. QEMU has no pure-PXE BIOS ROM (its NIC ROMs are all
// iPXE), so OVMF's own PXE client plays the firmware, with snponly.efi, the
// UEFI counterpart of undionly.kpxe (iPXE on top of the firmware's driver).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, parseMarker } from '../../src/lab/standin-init.js';
import type { DhcpPacket, TftpRequest } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { kernelRequests, scriptRequests, timingsFor, wireDuring } from './timings.js';
import { World } from './world.js';

const why = missingPrerequisites(E2E_PREREQUISITES);
const NODE = { name: 'chain-1', mac: '52:54:00:e2:00:03', role: 'worker' as const };

describe.skipIf(why)('e2e, chainload to iPXE', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'chainload', dhcpMode: 'full', efiBinary: 'snponly.efi', nodes: [NODE], standin: inject('standin') });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('OVMF PXE gets snponly.efi over TFTP; its next DHCP carries user class iPXE and gets the script: no loop', async () => {
    world.requireServices(['dhcp', 'tftp']);
    const run = await world.runVm({ firmware: 'uefi', mac: NODE.mac, timeoutMs: 150_000, done: hasMarker });
    timingsFor('chainload (UEFI, snponly.efi)', world, run);
    const wire = wireDuring(world, run);
    const dhcp = wire.filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === NODE.mac);
    const rrqs = wire.filter((p): p is TftpRequest => p.kind === 'tftp-rrq');

    const firmwareOffer = dhcp.find((p) => p.type === 2 && p.file.replace(/^\//, '') === 'snponly.efi');
    expect(firmwareOffer, 'no OFFER handed the firmware snponly.efi').toBeDefined();
    expect(dhcp.filter((p) => p.type === 1 && p.userClass !== 'iPXE').length, 'the firmware sent no DISCOVER of its own').toBeGreaterThan(0);

    const ipxeDiscovers = dhcp.filter((p) => p.type === 1 && p.userClass === 'iPXE');
    expect(ipxeDiscovers.length, 'snponly.efi never did DHCP with user class iPXE').toBeGreaterThan(0);
    // Replies to iPXE: after its DISCOVER, before it fetched the script (later the stand-in kernel does DHCP too).
    const scriptAt = scriptRequests(world, run)[0]?.at ?? Infinity;
    const toIpxe = dhcp.filter((p) => (p.type === 2 || p.type === 5) && p.at >= ipxeDiscovers[0]!.at && p.at < scriptAt);
    expect(toIpxe.length).toBeGreaterThan(0);
    for (const reply of toIpxe) expect(reply.file, 'iPXE was handed a boot file again (a chainload loop)').toMatch(/^http:\/\/10\.77\.0\.1:8080\/boot\.ipxe$/);

    // OVMF probes the size (then aborts) and fetches once: at most two requests, all for snponly.efi.
    expect(rrqs.map((r) => r.file.replace(/^\//, ''))).toEqual(expect.arrayContaining(['snponly.efi']));
    expect(rrqs.length).toBeLessThanOrEqual(2);
    expect(rrqs.every((r) => r.file.replace(/^\//, '') === 'snponly.efi')).toBe(true);
    expect(scriptRequests(world, run)).toHaveLength(1);
    expect(kernelRequests(world, run).filter((r) => r.status === 200)).toHaveLength(1);
    expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac: NODE.mac });
  });
});
