// The per-node NBP for UEFI HTTP boot: an httpBoot: uki node marked for
// install gets its UKI's URL; everyone else keeps the iPXE answer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { schematicId } from '../../../src/factory/schematic.js';
import { ukiSource } from '../../../src/factory/uki.js';
import { pendingUkiFetches, recordUkiFetch } from '../../../src/store/uki-fetches.js';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../../src/dhcp/answer.js';
import { packet } from '../fixtures.js';
import { makeContext, node, PUBLIC_URL, settingsWith, type TestContext } from '../context.js';

let ctx: TestContext;
let metrics: DhcpMetrics;
afterEach(() => ctx?.store.close());

const UKI_MAC = [0x52, 0x54, 0, 0x12, 0x35, 0x01];
const IPXE_MAC = [0x52, 0x54, 0, 0x12, 0x35, 0x02];
const UNKNOWN_MAC = [0x52, 0x54, 0, 0x12, 0x35, 0x03];
const httpDiscover = (mac: number[]) => packet({ xid: 9, mac }, [[53, [1]], [93, [0, 16]], [60, [...Buffer.from('HTTPClient:Arch:00016:UNDI:003000')]]]);

function setup(mode: 'full' | 'proxy', cached = true) {
  const nodes = [
    { ...node('sb-1', '52:54:00:12:35:01', '10.77.0.31'), httpBoot: 'uki' as const, secureBoot: true },
    node('ipxe-1', '52:54:00:12:35:02', '10.77.0.32'),
  ];
  ctx = makeContext(settingsWith(mode === 'full' ? {} : { mode: 'proxy', subnet: undefined }), { nodes, inTftpRoot: (f) => f === 'ipxe.efi' });
  ctx.ukiFor = (n) => (cached ? { url: `${PUBLIC_URL}/uki/${n.mac.replaceAll(':', '-')}.efi` } : { why: 'metal-amd64-secureboot-uki.efi is not cached' });
  metrics = newMetrics();
}

function send(buf: Buffer): DhcpPacket | undefined {
  const out = processDatagram(ctx, metrics, buf, { address: '0.0.0.0', port: 68 }, 'dhcp');
  if (!out) return undefined;
  const p = parseDhcp(out.bytes);
  if (!p.ok) throw new Error(p.error.detail);
  return p.packet;
}

describe('DHCP: the HTTP-boot NBP per node', () => {
  for (const mode of ['full', 'proxy'] as const) {
    it(`${mode}: the uki node gets its UKI URL with option 60 HTTPClient; the iPXE node and an unknown MAC keep iPXE`, () => {
      setup(mode);
      const uki = send(httpDiscover(UKI_MAC));
      expect(uki?.file).toBe(`${PUBLIC_URL}/uki/52-54-00-12-35-01.efi`);
      expect(uki?.options.bootfile).toBe(`${PUBLIC_URL}/uki/52-54-00-12-35-01.efi`);
      expect(uki?.options.vendorClass).toBe('HTTPClient');
      expect(uki?.file).not.toMatch(/\/\/.*\/\//);
      expect(send(httpDiscover(IPXE_MAC))?.file).toBe(`${PUBLIC_URL}/ipxe/ipxe.efi`);
      // An unknown MAC gets what it got before (here: no pool, so no answer), never a UKI.
      expect(send(httpDiscover(UNKNOWN_MAC))?.file ?? '').not.toContain('/uki/');
      // DHCP hands out the URL only: the node moves to booting when it fetches the UKI (src/http/boot/uki.ts).
      expect(ctx.store.getNode('sb-1')!.state).toBe('registered');
    });
  }

  it('gives a uki node no boot file, and says why, when its UKI is not cached or it is not marked for install', () => {
    setup('full', false);
    const reply = send(httpDiscover(UKI_MAC));
    expect(reply?.file ?? '').toBe('');
    expect(reply?.options.bootfile).toBeUndefined();
    ctx.lifecycle.markInstalled('sb-1', 'test');
    ctx.ukiFor = () => ({ url: 'http://x/uki.efi' });
    const installed = send(httpDiscover(UKI_MAC));
    expect(installed?.options.bootfile).toBeUndefined();
  });

  for (const mode of ['full', 'proxy'] as const) {
    it(`${mode}: a node with several MACs gets the UKI URL of the NIC that asked, with the real UKI source`, () => {
      const nodes = [{ ...node('sb-2', '52:54:00:12:36:01', '10.77.0.41'), macs: ['52:54:00:12:36:01', '52:54:00:12:36:02'], httpBoot: 'uki' as const, secureBoot: true }];
      ctx = makeContext(settingsWith(mode === 'full' ? {} : { mode: 'proxy', subnet: undefined }), { nodes, inTftpRoot: (f) => f === 'ipxe.efi' });
      metrics = newMetrics();
      const assets = mkdtempSync(join(tmpdir(), 'rb-uki-nic-'));
      try {
        const schematic = { extensions: [], extraKernelArgs: [] };
        mkdirSync(join(assets, schematicId(schematic), 'v1.11.5'), { recursive: true });
        writeFileSync(join(assets, schematicId(schematic), 'v1.11.5', 'metal-amd64-secureboot-uki.efi'), 'MZ');
        ctx.ukiFor = ukiSource(assets, () => ({ cluster: { schematic, talosVersion: 'v1.11.5' } }), PUBLIC_URL);
        expect(send(httpDiscover([0x52, 0x54, 0, 0x12, 0x36, 0x02]))?.options.bootfile).toBe(`${PUBLIC_URL}/uki/52-54-00-12-36-02.efi`);
        expect(send(httpDiscover([0x52, 0x54, 0, 0x12, 0x36, 0x01]))?.options.bootfile).toBe(`${PUBLIC_URL}/uki/52-54-00-12-36-01.efi`);
      } finally {
        rmSync(assets, { recursive: true, force: true });
      }
    });
  }

  it('proxy: the booted kernel\'s DHCP (not answered) ends the UKI silence watch; the firmware\'s and another MAC\'s do not', () => {
    setup('proxy');
    recordUkiFetch(ctx.store.db, { node: 'sb-1', mac: '52:54:00:12:35:01', name: 'metal-amd64-secureboot-uki.efi', servedAt: 1, servedTo: '10.77.0.31' }, 0);
    const kernelDiscover = (mac: number[]) => packet({ xid: 10, mac }, [[53, [1]], [60, [...Buffer.from('udhcp 1.35.0')]]]);
    expect(send(httpDiscover(UKI_MAC))?.options.bootfile).toContain('/uki/');
    expect(send(kernelDiscover(IPXE_MAC))).toBeUndefined();
    expect(pendingUkiFetches(ctx.store.db).map((f) => f.node)).toEqual(['sb-1']);
    expect(send(kernelDiscover(UKI_MAC))).toBeUndefined();
    expect(metrics.drops['not-pxe']).toBe(2);
    expect(pendingUkiFetches(ctx.store.db)).toEqual([]);
  });

  it('proxy: no answer at all for a uki node without its UKI', () => {
    setup('proxy', false);
    expect(send(httpDiscover(UKI_MAC))).toBeUndefined();
    expect(metrics.drops['no-boot-file']).toBe(1);
  });
});
