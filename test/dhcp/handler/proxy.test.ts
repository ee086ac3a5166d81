import { afterEach, describe, expect, it } from 'vitest';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../../src/dhcp/answer.js';
import {
  ipxeBiosDiscover, ipxeEfiProxyRequest, MAC_UNKNOWN, ovmfDiscover, ovmfProxyRequest, packet, plainDiscover, UUID_WIRE,
} from '../fixtures.js';
import { makeContext, PUBLIC_URL, SERVER, settingsWith, type TestContext } from '../context.js';

let ctx: TestContext;
let metrics: DhcpMetrics;
afterEach(() => ctx?.store.close());

function setup(dhcp = {}, inTftpRoot?: (f: string) => boolean) {
  ctx = makeContext(settingsWith({ mode: 'proxy', subnet: undefined, ...dhcp }), { inTftpRoot });
  metrics = newMetrics();
}

function send(buf: Buffer, via: 'dhcp' | 'proxy' = 'dhcp', from = { address: '0.0.0.0', port: 68 }): { reply?: DhcpPacket; to?: { address: string; port: number } } {
  const out = processDatagram(ctx, metrics, buf, from, via);
  if (!out) return {};
  const p = parseDhcp(out.bytes);
  if (!p.ok) throw new Error(p.error.detail);
  return { reply: p.packet, to: out.to };
}

describe('proxy mode', () => {
  it('answers an OVMF DISCOVER on 67 with a proxy offer the firmware accepts', () => {
    setup();
    const { reply, to } = send(ovmfDiscover());
    expect(reply?.options.messageType).toBe(2);
    expect(reply?.yiaddr).toBe('0.0.0.0');
    expect(reply?.siaddr).toBe(SERVER);
    expect(reply?.file).toBe('ipxe.efi');
    expect(reply?.options.tftpServer).toBe(SERVER);
    expect(reply?.options.bootfile).toBe('ipxe.efi');
    expect(reply?.options.serverId).toBe(SERVER);
    expect(reply?.options.vendorClass).toBe('PXEClient');
    expect(reply?.raw.get(97)).toEqual(Buffer.from([0, ...UUID_WIRE]));
    expect(reply?.raw.get(43)).toEqual(Buffer.from([6, 1, 8, 255]));
    expect(reply?.flags).toBe(0x8000);
    expect(to).toEqual({ address: '255.255.255.255', port: 68 });
    expect(metrics.proxyOffers).toBe(1);
  });

  it('answers OVMF\'s REQUEST from 4011 on 4011, to its ciaddr, with 65280 respected but capped at one frame', () => {
    setup();
    const { reply, to } = send(ovmfProxyRequest('10.77.0.50', SERVER), 'proxy', { address: '10.77.0.50', port: 4011 });
    expect(reply?.options.messageType).toBe(5);
    expect(reply?.file).toBe('ipxe.efi');
    expect(to).toEqual({ address: '10.77.0.50', port: 4011 });
    expect(ctx.store.events({ node: 'ovmf-1' }).some((e) => e.message.startsWith('proxy-ack'))).toBe(true);
  });

  it('answers iPXE EFI\'s proxy REQUEST from 68 back to port 68, with the script URL and 175/176', () => {
    setup();
    const { reply, to } = send(ipxeEfiProxyRequest('10.77.0.51'), 'proxy', { address: '10.77.0.51', port: 68 });
    expect(to).toEqual({ address: '10.77.0.51', port: 68 });
    expect(reply?.file).toBe(`${PUBLIC_URL}/boot.ipxe`);
    expect(reply?.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
  });

  it('stays silent to plain DHCP clients, unknown MACs and REQUESTs meant for the address server', () => {
    setup();
    expect(send(plainDiscover([0x52, 0x54, 0, 0x12, 0x34, 1])).reply).toBeUndefined();
    expect(metrics.drops['not-pxe']).toBe(1);
    const unknown = ovmfDiscover();
    unknown.set(MAC_UNKNOWN, 28);
    expect(send(unknown).reply).toBeUndefined();
    expect(metrics.drops['unknown-mac']).toBe(1);
    expect(ctx.store.listDiscovered().map((d) => d.mac)).toEqual(['52:54:00:aa:bb:cc']);
    const forKea = packet({ xid: 5, mac: [0x52, 0x54, 0, 0x12, 0x34, 2] }, [[53, [3]], [54, [10, 77, 0, 2]], [50, [10, 77, 0, 50]], [60, [...Buffer.from('PXEClient:Arch:00007:UNDI:003000')]]]);
    expect(send(forKea).reply).toBeUndefined();
    expect(metrics.drops['other-server']).toBe(1);
  });

  it('hands HTTP boot clients (arch 16) a URL with option 60 HTTPClient', () => {
    setup({}, (f) => f === 'ipxe.efi');
    const http = packet({ xid: 6, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x11] }, [[53, [1]], [93, [0, 16]], [60, [...Buffer.from('HTTPClient:Arch:00016:UNDI:003000')]]]);
    const { reply } = send(http);
    expect(reply?.file).toBe(`${PUBLIC_URL}/ipxe/ipxe.efi`);
    expect(reply?.options.vendorClass).toBe('HTTPClient');
    expect(reply?.raw.get(60)).toEqual(Buffer.from('HTTPClient'));
  });

  it('offers arm64 only when the binary is in the TFTP root', () => {
    const arm = () => packet({ xid: 7, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x11] }, [[53, [1]], [93, [0, 11]], [60, [...Buffer.from('PXEClient:Arch:00011:UNDI:003000')]]]);
    setup();
    expect(send(arm()).reply).toBeUndefined();
    expect(metrics.drops['no-boot-file']).toBe(1);
    ctx.store.close();
    setup({}, (f) => f === 'ipxe-arm64.efi');
    expect(send(arm()).reply?.file).toBe('ipxe-arm64.efi');
  });

  it('does not boot installed nodes when bootFileForInstalled is false, and boots them when true', () => {
    setup({ bootFileForInstalled: false });
    ctx.store.setState('cp-1', 'installed', 'test', { markedForInstall: false });
    expect(send(ipxeBiosDiscover()).reply).toBeUndefined();
    expect(metrics.drops['no-boot-file']).toBe(1);
    ctx.store.close();
    setup({ bootFileForInstalled: true });
    ctx.store.setState('cp-1', 'installed', 'test', { markedForInstall: false });
    expect(send(ipxeBiosDiscover()).reply?.file).toBe(`${PUBLIC_URL}/boot.ipxe`);
  });
});
