// Secure Boot with a signed UKI on real OVMF (issue 23 item 3). OVMF's
// secboot build with the snakeoil variable store (Secure Boot enforced, the
// snakeoil key in db) and its PXE options off runs UEFI HTTPv4. For a node
// with secureBoot: true rackboot's DHCP names the node's UKI (no iPXE), the
// firmware GETs it and verifies it before it runs. The stand-in kernel and
// initramfs are built into a UKI with systemd's EFI stub and signed with the
// snakeoil key, then imported as the Factory's Secure Boot UKI would be.
// (a) signed: the stand-in's marker. (b) tampered after signing: the
// firmware refuses it (no marker), and rackboot fails the node, naming
// Secure Boot, once the fetch is followed by silence. Stops at those proofs.
// (c) proxyDHCP beside kea: the same signed UKI boots with kea handing out
// the address and rackboot only naming the UKI, and the kernel's DHCP
// (answered by kea, not rackboot) still ends the node's silence watch.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { missingPrerequisites } from '../helpers/netns.js';
import { hasMarker, MARKER_PREFIX, parseMarker, REQUIRED_TALOS_ARGS } from '../../src/lab/standin-init.js';
import { OVMF_CODE_4M_SECBOOT, OVMF_VARS_4M_SNAKEOIL } from '../../src/lab/qemu.js';
import { buildUki, EFI_STUB, signEfi, SNAKEOIL_CERT, SNAKEOIL_KEY } from '../../src/lab/uki.js';
import { importUki } from '../../src/lab/prepare.js';
import type { DhcpPacket, HttpGet } from './capture.js';
import { E2E_PREREQUISITES } from './prerequisites.js';
import { httpRequests, timingsFor, wireDuring } from './timings.js';
import { HTTP_PORT, SERVER, World, type VmRun } from './world.js';

const why = missingPrerequisites([...E2E_PREREQUISITES, OVMF_CODE_4M_SECBOOT, OVMF_VARS_4M_SNAKEOIL, EFI_STUB, SNAKEOIL_KEY, SNAKEOIL_CERT, '/usr/bin/sbsign', '/usr/bin/objcopy']);
// From the UKI's fetch to the stand-in kernel's DHCP took 19 s under TCG on a
// loaded 2-core host (fetch at 14 s, DHCP at ~33 s from power-on); 15 s
// failed a node that booted. 50 s leaves room on a slower run.
const SILENCE_S = 50;
/** EDK2's BdsDxe when the HTTP boot option's image fails verification (seen: `failed to load Boot0001 "UEFI HTTPv4 (MAC:…)" from …: Access Denied`). */
const refused = (s: string) => /failed to load Boot\w+ "UEFI HTTPv4[^"]*"[^\n]*: (Access Denied|Security Violation)/.test(s);
const path = (mac: string) => `/uki/${mac.replaceAll(':', '-')}.efi`;

interface NodeView { name: string; state: string; stateReason: string; failedStep?: string | null }

/** The firmware's exchange: HTTPClient DISCOVER, an OFFER naming the node's UKI, its GET of exactly that; no iPXE, no TFTP. */
function checkUkiExchange(world: World, run: VmRun, mac: string): void {
  const wire = wireDuring(world, run);
  const dhcp = wire.filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === mac);
  const discover = dhcp.find((p) => p.type === 1 && p.vendorClass?.startsWith('HTTPClient'));
  expect(discover, 'the firmware sent no DISCOVER with vendor class HTTPClient').toBeDefined();
  expect(discover!.vendorClass).toMatch(/^HTTPClient:Arch:00016:/);
  const offers = dhcp.filter((p) => p.type === 2 && p.srcIp === SERVER && p.vendorClass === 'HTTPClient');
  expect(offers.length, 'rackboot sent no HTTPClient offer').toBeGreaterThan(0);
  for (const o of offers) expect(o.file).toBe(`http://${SERVER}:${HTTP_PORT}${path(mac)}`);
  const gets = wire.filter((p): p is HttpGet => p.kind === 'http-get');
  expect(gets.filter((g) => g.target === path(mac)).length, `no GET of the UKI; GETs: ${gets.map((g) => g.target).join(', ')}`).toBeGreaterThan(0);
  expect(gets.some((g) => g.target.startsWith('/ipxe'))).toBe(false);
  expect(gets.some((g) => g.target.includes('//'))).toBe(false);
  expect(wire.some((p) => p.kind === 'tftp-rrq')).toBe(false);
  const served = httpRequests(world).filter((r) => r.at >= run.startedAt && r.url === path(mac));
  expect(served.some((r) => r.status === 200), JSON.stringify(served)).toBe(true);
  expect(served.every((r) => r.status === 200 || r.status === undefined)).toBe(true);
}

describe.skipIf(why)('e2e, Secure Boot: a signed UKI by UEFI HTTP boot (OVMF secboot, snakeoil keys)', () => {
  const good = { name: 'sb-good', mac: '52:54:00:e2:03:01', role: 'worker' as const, secureBoot: true };
  const bad = { name: 'sb-bad', mac: '52:54:00:e2:03:02', role: 'worker' as const, secureBoot: true };
  let world: World;
  let signed: string;
  beforeAll(async () => {
    world = await World.start({
      name: 'secureboot', dhcpMode: 'full', efiBinary: 'snponly.efi', nodes: [good, bad], standin: inject('standin'),
      settings: { httpBoot: { ukiSilenceSeconds: SILENCE_S }, lifecycle: { sweepSeconds: 1 } },
    });
    const standin = inject('standin');
    // The command line a UKI carries: what the stand-in checks a Talos boot gets.
    const unsigned = buildUki({ kernel: standin.kernel, initrd: standin.initramfs, cmdline: REQUIRED_TALOS_ARGS.join(' '), out: join(world.dir, 'standin-uki.efi') });
    signed = signEfi(unsigned, join(world.dir, 'standin-uki.signed.efi'));
    await importUki(world.paths, signed);
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('(a) the signed UKI: HTTPClient offer with the node\'s UKI URL → GET → verified → the stand-in\'s kernel runs', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http', secureBoot: true, mac: good.mac, timeoutMs: 170_000, done: hasMarker });
    timingsFor('Secure Boot UKI (UEFI HTTPv4)', world, run);
    expect(refused(run.serial), run.serial.slice(-1500)).toBe(false);
    expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac: good.mac });
    checkUkiExchange(world, run, good.mac);
    const node = world.api<{ nodes: NodeView[] }>('/api/nodes').nodes.find((n) => n.name === good.name)!;
    expect(node.state).toBe('booting');
  });

  it('(b) a tampered UKI: the firmware refuses it, no marker; rackboot fails the node naming Secure Boot', async () => {
    // One byte changed well inside the image (the initramfs/kernel data the signature covers); the PE headers stay valid.
    const bytes = readFileSync(signed);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    const tampered = join(world.dir, 'standin-uki.tampered.efi');
    writeFileSync(tampered, bytes);
    await importUki(world.paths, tampered);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http', secureBoot: true, mac: bad.mac, timeoutMs: 120_000, done: refused });
    expect(refused(run.serial), `the firmware did not report a refused image: ${run.serial.slice(-1500)}`).toBe(true);
    expect(run.serial).not.toContain('Linux version');
    expect(run.serial).not.toContain(MARKER_PREFIX);
    checkUkiExchange(world, run, bad.mac);
    let node: NodeView | undefined;
    const deadline = Date.now() + (SILENCE_S + 30) * 1000;
    while (Date.now() < deadline) {
      node = world.api<{ nodes: NodeView[] }>('/api/nodes').nodes.find((n) => n.name === bad.name);
      if (node?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(node?.state, JSON.stringify(node)).toBe('failed');
    expect(node!.stateReason).toMatch(/fetched its UKI metal-amd64-secureboot-uki\.efi .*nothing followed.*Secure Boot/);
    // The signed node's fetch is now longer ago than the silence allowed, but its kernel's DHCP followed it: still booting.
    const goodNow = world.api<{ nodes: NodeView[] }>('/api/nodes').nodes.find((n) => n.name === good.name)!;
    expect(goodNow.state, goodNow.stateReason).toBe('booting');
  });
});

describe.skipIf(why)('e2e, Secure Boot UKI in proxyDHCP mode beside kea-dhcp4', () => {
  const node = { name: 'sb-proxy', mac: '52:54:00:e2:03:03', role: 'worker' as const, secureBoot: true };
  let world: World;
  beforeAll(async () => {
    world = await World.start({
      name: 'secureboot-proxy', dhcpMode: 'proxy', efiBinary: 'snponly.efi', nodes: [node], standin: inject('standin'),
      settings: { httpBoot: { ukiSilenceSeconds: SILENCE_S }, lifecycle: { sweepSeconds: 1 } },
    });
    const standin = inject('standin');
    const unsigned = buildUki({ kernel: standin.kernel, initrd: standin.initramfs, cmdline: REQUIRED_TALOS_ARGS.join(' '), out: join(world.dir, 'standin-uki.efi') });
    await importUki(world.paths, signEfi(unsigned, join(world.dir, 'standin-uki.signed.efi')));
  });
  afterAll(async () => {
    await world?.destroy();
  });

  it('(c) kea leases, rackboot\'s proxy offer names the node\'s UKI, the signed UKI boots; the kernel\'s DHCP ends the silence watch', async () => {
    world.requireServices(['dhcp']);
    const run = await world.runVm({ firmware: 'uefi', uefiNetBoot: 'http', secureBoot: true, mac: node.mac, timeoutMs: 170_000, done: hasMarker });
    timingsFor('Secure Boot UKI (UEFI HTTPv4) proxyDHCP', world, run);
    expect(parseMarker(run.serial), run.serial.slice(-2000)).toMatchObject({ result: 'ok', missing: [], mac: node.mac });
    checkUkiExchange(world, run, node.mac);
    const dhcp = wireDuring(world, run).filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === node.mac);
    for (const p of dhcp.filter((d) => d.srcIp === SERVER && (d.type === 2 || d.type === 5))) expect(p.yiaddr, 'rackboot handed out an address in proxy mode').toBe('0.0.0.0');
    expect(dhcp.some((p) => p.type === 5 && p.srcIp !== SERVER && p.yiaddr.startsWith('10.77.0.')), 'kea leased nothing').toBe(true);
    // The fetch was recorded, and the kernel's DHCP (which rackboot drops unanswered in proxy mode) ended the wait for it.
    const db = new Database(join(world.paths.dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try {
      const served = db.prepare("SELECT count(*) AS n FROM events WHERE node = ? AND message LIKE '%UKI%served%'").get(node.name) as { n: number };
      expect(served.n, 'the UKI fetch was not recorded').toBeGreaterThan(0);
      expect(db.prepare('SELECT node FROM uki_fetches').all()).toEqual([]);
    } finally {
      db.close();
    }
    expect(world.api<{ nodes: NodeView[] }>('/api/nodes').nodes.find((n) => n.name === node.name)!.state).toBe('booting');
  });
});
