// arm64 by UEFI HTTP boot on real firmware (issue 23 item 4): QEMU's arm64
// `virt` machine under TCG with Debian's AAVMF, PXE off so its HTTPv4 boot
// option runs first. Debian ships no arm64 iPXE, so the arm64 node is an
// httpBoot: uki node: rackboot's DHCP answers its HTTPClient DISCOVER
// (option 93 = 19) with the node's UKI URL, and the firmware fetches and
// runs it. The UKI is the stand-in built for arm64 from Debian's arm64
// packages (kernel, busybox-static, systemd-boot-efi's stub; apt-get
// download, cached beside the amd64 stand-in), imported as the Factory's
// metal-arm64-uki.efi. Stops at the stand-in's marker.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, parseMarker, REQUIRED_TALOS_ARGS } from '../../src/lab/standin-init.js';
import { AAVMF_CODE, AAVMF_VARS, QEMU_AARCH64 } from '../../src/lab/qemu-arm64.js';
import { buildStandin, DEFAULT_STANDIN_CACHE } from '../../src/lab/standin.js';
import { debianPackageTree } from '../../src/lab/debian-package.js';
import { AARCH64_BINUTILS, ARM64_EFI_STUB_IN_PACKAGE, buildUki } from '../../src/lab/uki.js';
import { importUki } from '../../src/lab/prepare.js';
import type { DhcpPacket, HttpGet } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { httpRequests, timingsFor, wireDuring } from './timings.js';
import { HTTP_PORT, SERVER, World } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, QEMU_AARCH64, AAVMF_CODE, AAVMF_VARS, `/usr/bin/${AARCH64_BINUTILS}objcopy`, `/usr/bin/${AARCH64_BINUTILS}objdump`]);
const CACHE = process.env.RACKBOOT_STANDIN_CACHE ?? DEFAULT_STANDIN_CACHE;
const ukiPath = (mac: string) => `/uki/${mac.replaceAll(':', '-')}.efi`;
// Kernel running at 15.7–30.6 s from power-on in three runs on the shared 2-core host (TCG, load 10–25); ten times that, as the machine may be loaded.
const VM_TIMEOUT_MS = 300_000;

describe.skipIf(why)('e2e, arm64: AAVMF UEFI HTTP boot (arch 19) of the arm64 UKI', () => {
  const node = { name: 'arm-uki', mac: '52:54:00:a6:40:01', role: 'worker' as const, arch: 'arm64' as const, httpBoot: 'uki' as const };
  let world: World;
  beforeAll(async () => {
    // Debian's arm64 kernel and busybox (apt-get download, cached), virtio-net modules, the same /init as amd64.
    const standin = buildStandin(CACHE, 'arm64');
    const stub = join(debianPackageTree(CACHE, 'systemd-boot-efi', 'arm64'), ARM64_EFI_STUB_IN_PACKAGE);
    world = await World.start({ name: 'arm64', dhcpMode: 'full', efiBinary: 'snponly.efi', nodes: [node], standin: inject('standin') });
    // The PL011 UART of QEMU virt is ttyAMA0 (Talos's arm64 metal console too); the last console= is /dev/console.
    const uki = buildUki({
      kernel: standin.kernel, initrd: standin.initramfs, cmdline: [...REQUIRED_TALOS_ARGS, 'console=ttyAMA0'].join(' '),
      out: join(world.dir, 'standin-arm64-uki.efi'), stub, binutils: AARCH64_BINUTILS,
    });
    await importUki(world.paths, uki, 'metal-arm64-uki.efi');
  }, 600_000);
  afterAll(async () => {
    await world?.destroy();
  });

  it('HTTPClient DISCOVER (arch 19) → OFFER with the node\'s UKI URL → GET → the arm64 stand-in kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', arch: 'arm64', uefiNetBoot: 'http', mac: node.mac, timeoutMs: VM_TIMEOUT_MS, done: hasMarker });
    timingsFor('arm64 UKI (AAVMF UEFI HTTPv4)', world, run);
    const wire = wireDuring(world, run);
    const dhcp = wire.filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === node.mac);
    const discover = dhcp.find((p) => p.type === 1 && p.vendorClass?.startsWith('HTTPClient'));
    expect(discover, `no HTTPClient DISCOVER; serial: ${run.serial.slice(-1500)}`).toBeDefined();
    expect(discover!.clientArch).toBe(19);
    expect(discover!.vendorClass).toMatch(/^HTTPClient:Arch:00019:/);
    const offers = dhcp.filter((p) => p.type === 2 && p.srcIp === SERVER && p.vendorClass === 'HTTPClient');
    expect(offers.length, 'rackboot sent no HTTPClient offer').toBeGreaterThan(0);
    for (const o of offers) expect(o.file).toBe(`http://${SERVER}:${HTTP_PORT}${ukiPath(node.mac)}`);
    const gets = wire.filter((p): p is HttpGet => p.kind === 'http-get');
    expect(gets.filter((g) => g.target === ukiPath(node.mac)).length, `no GET of the UKI; GETs: ${gets.map((g) => g.target).join(', ')}`).toBeGreaterThan(0);
    expect(gets.some((g) => g.target.startsWith('/ipxe'))).toBe(false);
    const served = httpRequests(world).filter((r) => r.at >= run.startedAt && r.url === ukiPath(node.mac));
    expect(served.some((r) => r.status === 200), JSON.stringify(served)).toBe(true);
    // The arm64 kernel ran the stand-in: its marker, with the lease it took from rackboot.
    expect(run.serial).toMatch(/Linux version \S+-arm64/);
    expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac: node.mac });
    const nodes = world.api<{ nodes: { name: string; state: string }[] }>('/api/nodes').nodes;
    expect(nodes.find((n) => n.name === node.name)?.state).toBe('booting');
  }, VM_TIMEOUT_MS + 60_000);
});
