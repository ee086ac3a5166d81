// Real firmware through rackboot in full DHCP mode: BIOS iPXE, UEFI PXE →
// ipxe.efi, pull config, an installed node, an unknown machine. One
// rackboot, one machine at a time.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, MARKER_PREFIX, parseMarker } from '../../src/lab/standin-init.js';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { DISK_MARKER, writeBootDisk } from './disk.js';
import { kernelRequests, scriptRequests, timingsFor, wireDuring } from './timings.js';
import { renderedConfig, E2E_PREREQUISITES } from './prerequisites.js';
import { World } from './world.js';

const why = missingPrerequisites(E2E_PREREQUISITES);
const NODES = {
  bios: { name: 'bios-1', mac: '52:54:00:e2:00:01', role: 'controlplane' as const },
  uefi: { name: 'uefi-1', mac: '52:54:00:e2:00:02', role: 'worker' as const },
  pull: { name: 'pull-1', mac: '52:54:00:e2:00:04', role: 'worker' as const, configMode: 'pull' as const },
  disk: { name: 'disk-1', mac: '52:54:00:e2:00:05', role: 'worker' as const },
};
const UNKNOWN_MAC = '52:54:00:e2:00:99';

describe.skipIf(why)('e2e, DHCP full mode', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.start({ name: 'full', dhcpMode: 'full', nodes: Object.values(NODES), standin: inject('standin') });
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('BIOS: e1000 iPXE ROM → DHCP → HTTP script → kernel and initramfs → the kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'bios', mac: NODES.bios.mac, timeoutMs: 90_000, done: hasMarker });
    const t = timingsFor('BIOS', world, run);
    const marker = parseMarker(run.serial);
    expect(marker, `no stand-in marker on the serial console:\n${run.serial.slice(-2000)}`).toBeDefined();
    expect(marker).toMatchObject({ result: 'ok', missing: [], config: 'none', mac: NODES.bios.mac });
    expect(marker!.ip).toMatch(/^10\.77\.0\.\d+$/);
    expect(t.discover).toBeDefined();
    expect(t.ack).toBeDefined();
    expect(kernelRequests(world, run).filter((r) => r.status === 200)).toHaveLength(1);
    const { nodes } = world.api<{ nodes: { name: string; state: string }[] }>('/api/nodes');
    expect(nodes.find((n) => n.name === NODES.bios.name)?.state).toBe('booting');
  });

  it('UEFI: OVMF PXE → ipxe.efi over TFTP → iPXE EFI DHCP → HTTP → the kernel runs', async () => {
    world.requireServices(['dhcp', 'tftp']);
    const run = await world.runVm({ firmware: 'uefi', mac: NODES.uefi.mac, timeoutMs: 150_000, done: hasMarker });
    timingsFor('UEFI', world, run);
    const wire = wireDuring(world, run);
    expect(wire.some((p) => p.kind === 'tftp-rrq' && p.file.replace(/^\//, '') === 'ipxe.efi'), 'ipxe.efi was not requested over TFTP').toBe(true);
    expect(wire.some((p) => p.kind === 'dhcp' && p.type === 1 && p.mac === NODES.uefi.mac && p.userClass === 'iPXE'), 'iPXE EFI did no DHCP of its own').toBe(true);
    expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac: NODES.uefi.mac });
  });

  it('pull config: the stand-in fetches /config?mac=… and gets exactly the rendered config', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'bios', mac: NODES.pull.mac, timeoutMs: 90_000, done: hasMarker });
    timingsFor('pull config', world, run);
    const marker = parseMarker(run.serial);
    expect(marker, run.serial.slice(-2000)).toBeDefined();
    expect(marker!.config, `the node could not fetch talos.config=:\n${run.serial.slice(-1500)}`).toMatch(/^[0-9a-f]{64}$/);
    const expected = createHash('sha256').update(await renderedConfig(world, NODES.pull.name)).digest('hex');
    expect(marker!.config).toBe(expected);
    expect(marker!.result).toBe('ok');
  });

  it('installed node: after markInstalled its next PXE boot gets the local-disk script and boots its disk', async () => {
    world.requireServices(['dhcp']);
    const store = new Store(join(world.paths.dataDir, 'rackboot.db'));
    try {
      new Lifecycle(store).markInstalled(NODES.disk.name, 'e2e: installed out of band');
    } finally {
      store.close();
    }
    const disk = writeBootDisk(join(world.dir, 'disk-1.img'));
    const run = await world.runVm({ firmware: 'bios', mac: NODES.disk.mac, disk, timeoutMs: 90_000, done: (s) => s.includes(DISK_MARKER) });
    timingsFor('installed → local disk', world, run);
    expect(run.serial, 'the VM never booted its disk').toContain(DISK_MARKER);
    expect(run.serial).toContain(`rackboot: ${NODES.disk.name} boots from local disk`);
    expect(run.serial).not.toContain(MARKER_PREFIX);
    expect(scriptRequests(world, run).length).toBeGreaterThan(0);
    expect(kernelRequests(world, run)).toHaveLength(0);
  });

  it('unknown machine: shows up in /api/discovered and is not installed', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'bios', mac: UNKNOWN_MAC, timeoutMs: 60_000, done: (s) => s.includes('is not in the inventory') });
    timingsFor('unknown machine', world, run);
    expect(run.serial).toContain(`this machine (${UNKNOWN_MAC}) is not in the inventory`);
    const discovered = world.api<{ mac: string }[]>('/api/discovered');
    expect(discovered.map((d) => d.mac)).toContain(UNKNOWN_MAC);
    const { nodes } = world.api<{ nodes: { mac: string }[] }>('/api/nodes');
    expect(nodes.map((n) => n.mac)).not.toContain(UNKNOWN_MAC);
    expect(kernelRequests(world, run)).toHaveLength(0);
  });
});
