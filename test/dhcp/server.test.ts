// The socket shell in-process, on loopback only: a ProxyDHCP REQUEST on the
// proxy port is answered to ciaddr:source port, which loopback can carry.
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { loadBindToDevice, startDhcpService, type DhcpService } from '../../src/dhcp/server.js';
import { parseDhcp } from '../../src/dhcp/codec.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { missingPrerequisites } from '../helpers/netns.js';
import { ovmfProxyRequest, ovmfDiscover } from './fixtures.js';
import { waitFor } from './netns/harness.js';
import { inventoryOf, NODES, settingsWith } from './context.js';
import { Store } from '../../src/store/store.js';

let svc: DhcpService | undefined;
let store: Store | undefined;
afterEach(async () => {
  await svc?.close();
  store?.close();
  svc = undefined;
});

describe('bindtodevice addon', () => {
  it('explains how to build the addon when it is missing', () => {
    expect(() => loadBindToDevice('/nonexistent/bindtodevice.node')).toThrow(/not built.*node-gyp\.js"? rebuild (--nodedir=\/usr )?-C native\/bindtodevice/s);
  });

  it.skipIf(missingPrerequisites([]))('refuses an interface that does not exist', () => {
    const open = loadBindToDevice();
    expect(() => open('rbdnosuch0', 0)).toThrow(/SO_BINDTODEVICE/);
  });
});

/** A proxy-mode service on loopback over an in-memory store (`svc`, `store`); returns its DHCP port (the proxy port is the next). */
async function proxyOnLoopback(prepare: (s: Store) => void = () => undefined): Promise<number> {
  store = new Store(':memory:');
  store.syncInventory(inventoryOf(NODES));
  prepare(store);
  const base = 40000 + Math.floor(Math.random() * 20000);
  svc = await startDhcpService({
    settings: settingsWith({ mode: 'proxy', subnet: undefined }), store, lifecycle: new Lifecycle(store),
    log: pino({ level: process.env.RBD_DEBUG ? 'debug' : 'silent' }), publicUrl: 'http://127.0.0.1:8080', provisioning: { iface: 'lo', address: '127.0.0.1' },
  }, { ports: { dhcp: base, proxy: base + 1 } });
  return base;
}

describe.skipIf(missingPrerequisites([]))('startDhcpService on loopback', () => {
  it('answers a proxy REQUEST on the proxy port, counts it, and counts garbage as a parse error', async () => {
    const base = await proxyOnLoopback();
    expect(svc!.ports).toEqual([base, base + 1]);

    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const reply = new Promise<Buffer>((r) => client.once('message', (m) => r(m)));
    client.send(Buffer.from('not a dhcp packet'), base + 1, '127.0.0.1');
    client.send(ovmfProxyRequest('127.0.0.1', '127.0.0.1'), base + 1, '127.0.0.1');
    const p = parseDhcp(await reply);
    client.close();
    expect(p.ok).toBe(true);
    if (p.ok) {
      expect(p.packet.options.messageType).toBe(5);
      expect(p.packet.file).toBe('ipxe.efi');
    }
    const m = svc!.metrics();
    expect(m.received).toBe(2);
    expect(m.proxyAcks).toBe(1);
    expect(m.parseErrors).toEqual({ 'too-short': 1 });
    // A DISCOVER on the proxy port is not how PXE works: dropped and counted.
    const c2 = dgram.createSocket('udp4');
    await new Promise<void>((r) => c2.bind(0, '127.0.0.1', () => r()));
    c2.send(ovmfDiscover(), base + 1, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    c2.close();
    expect(svc!.metrics().drops).toEqual({ 'unsupported-type': 1 });
  });

  // The receive queue outlasts a stalled event loop (GC, a checkpoint): the
  // default 208 KiB held about 160 of these on loopback and dropped the rest.
  it('keeps a burst of 1,000 datagrams that arrives while the event loop is busy', async () => {
    const base = await proxyOnLoopback();
    const burst = 1000;
    const datagram = ovmfProxyRequest('127.0.0.1', '127.0.0.1').toString('hex');
    // execFileSync holds this process's event loop (the service's) until the sender has sent them all.
    execFileSync(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      const b = Buffer.from('${datagram}', 'hex');
      let left = ${burst};
      for (let i = 0; i < ${burst}; i++) s.send(b, ${base + 1}, '127.0.0.1', () => { if (--left === 0) s.close(); });
    `]);
    await waitFor(() => svc!.metrics().received === burst, 10_000, () => `received ${svc!.metrics().received} of ${burst}`);
    expect(svc!.metrics().received).toBe(burst);
  });

  it('starts and answers what needs no write when the store refuses writes from the start', async () => {
    // Like a full disk: every write fails, the lease sweep at start included.
    const base = await proxyOnLoopback((s) => s.db.pragma('query_only = ON'));
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const reply = new Promise<Buffer>((r) => client.once('message', (m) => r(m)));
    client.send(ovmfProxyRequest('127.0.0.1', '127.0.0.1'), base + 1, '127.0.0.1');
    const p = parseDhcp(await reply);
    client.close();
    expect(p.ok && p.packet.file).toBe('ipxe.efi');
    expect(store!.events({ limit: 5000 }).filter((e) => e.kind === 'dhcp')).toEqual([]);
  });
});
