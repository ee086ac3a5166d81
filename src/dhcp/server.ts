// The DHCP service: sockets, counters and logging around the handlers.
// Sockets come from the bindtodevice addon (native/bindtodevice): bound to
// 0.0.0.0 so broadcasts arrive, and to the provisioning interface with
// SO_BINDTODEVICE so nothing from any other interface arrives, and every
// reply (broadcast included) leaves by that interface only.
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { loadInterfaceSockets } from '../net/addon.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import { BOOTREQUEST, encodeDhcp, MESSAGE_NAMES, parseDhcp } from './codec.js';
import { Leases } from './leases.js';
import { OfferBook, type HandlerContext, type Outcome, type Via } from './handler/common.js';
import { handleFull } from './handler/full.js';
import { handleProxy, PROXY_PORT } from './handler/proxy.js';

export { ADDON_BUILD } from '../net/addon.js';

export interface DhcpMetrics {
  received: number;
  offers: number;
  acks: number;
  naks: number;
  informs: number;
  proxyOffers: number;
  proxyAcks: number;
  releases: number;
  declines: number;
  drops: Record<string, number>;
  parseErrors: Record<string, number>;
  sendErrors: number;
}

export interface DhcpService {
  name: string;
  close(): Promise<void>;
  metrics(): DhcpMetrics;
  /** The ports actually bound (67, and 4011 in proxy mode, unless overridden for tests). */
  ports: number[];
}

export interface DhcpDeps {
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  log: Logger;
  publicUrl: string;
  /** The provisioning interface and our address on it (resolveProvisioningAddress). */
  provisioning: { iface: string; address: string };
  now?: () => number;
}

type OpenUdp4 = (ifname: string, port: number) => number;

/** Loads the addon's interface-bound UDP socket, or explains how to build it. */
export function loadBindToDevice(path?: string): OpenUdp4 {
  return loadInterfaceSockets('DHCP', path).openUdp4;
}

export function newMetrics(): DhcpMetrics {
  return { received: 0, offers: 0, acks: 0, naks: 0, informs: 0, proxyOffers: 0, proxyAcks: 0, releases: 0, declines: 0, drops: {}, parseErrors: {}, sendErrors: 0 };
}

const bump = (rec: Record<string, number>, key: string) => { rec[key] = (rec[key] ?? 0) + 1; };
const COUNTER = { offer: 'offers', ack: 'acks', nak: 'naks', inform: 'informs', 'proxy-offer': 'proxyOffers', 'proxy-ack': 'proxyAcks' } as const;

/** Turns one datagram into at most one reply. Pure apart from the handler's store writes; never throws. */
export function processDatagram(
  ctx: HandlerContext, metrics: DhcpMetrics, msg: Buffer, from: { address: string; port: number }, via: Via,
): { bytes: Buffer; to: { address: string; port: number }; outcome: Outcome } | undefined {
  metrics.received++;
  const parsed = parseDhcp(msg);
  if (!parsed.ok) {
    bump(metrics.parseErrors, parsed.error.kind);
    ctx.log.debug({ from, via, error: parsed.error }, 'dhcp: unparseable packet dropped');
    return undefined;
  }
  const req = parsed.packet;
  const base = { mac: req.mac, xid: req.xid, type: MESSAGE_NAMES[req.options.messageType ?? 0] ?? req.options.messageType, via, from: `${from.address}:${from.port}` };
  let outcome: Outcome;
  try {
    if (req.op !== BOOTREQUEST) outcome = { kind: 'drop', reason: 'not-request', detail: `op ${req.op}` };
    else if (req.options.messageType === undefined) outcome = { kind: 'drop', reason: 'not-request', detail: 'BOOTP without option 53' };
    else outcome = ctx.settings.dhcp.mode === 'full' ? handleFull(ctx, { packet: req, from, via }) : handleProxy(ctx, { packet: req, from, via });
  } catch (err) {
    bump(metrics.drops, 'internal-error');
    ctx.log.error({ ...base, err }, 'dhcp: handler failed; packet dropped');
    return undefined;
  }
  if (outcome.kind === 'drop') {
    bump(metrics.drops, outcome.reason);
    ctx.log.debug({ ...base, drop: outcome.reason }, `dhcp: ${outcome.detail}`);
    return undefined;
  }
  if (outcome.kind === 'done') {
    metrics[outcome.counter === 'release' ? 'releases' : 'declines']++;
    ctx.log.debug(base, `dhcp: ${outcome.detail}`);
    return undefined;
  }
  const encoded = encodeDhcp(outcome.packet, outcome.maxSize);
  if (!encoded.ok) {
    bump(metrics.drops, 'encode-failed');
    ctx.log.warn({ ...base, error: encoded.error }, 'dhcp: reply does not fit the client; dropped');
    return undefined;
  }
  metrics[COUNTER[outcome.type]]++;
  ctx.log.debug({ ...base, to: `${outcome.to.address}:${outcome.to.port}` }, `dhcp: ${outcome.detail}`);
  return { bytes: encoded.bytes, to: outcome.to, outcome };
}

export async function startDhcpService(deps: DhcpDeps, opts: { ports?: { dhcp: number; proxy: number } } = {}): Promise<DhcpService> {
  const { settings, store, log } = deps;
  if (settings.dhcp.mode === 'off') throw new Error('startDhcpService called with dhcp.mode off');
  const openUdp4 = loadBindToDevice();
  const now = deps.now ?? Date.now;
  const dlog = log.child({ svc: 'dhcp' });
  const ctx: HandlerContext = {
    settings, store, lifecycle: deps.lifecycle, leases: new Leases(store.db, now), serverAddress: deps.provisioning.address,
    publicUrl: deps.publicUrl, offers: new OfferBook(now), log: dlog, now,
    inTftpRoot: (file) => !file.includes('/') && existsSync(join(settings.tftp.root, file)),
  };
  const metrics = newMetrics();
  const dhcpPort = opts.ports?.dhcp ?? 67;
  const ports = settings.dhcp.mode === 'proxy' ? [dhcpPort, opts.ports?.proxy ?? PROXY_PORT] : [dhcpPort];

  // Group commit: datagrams that arrive while the previous batch was being
  // written are handled together in one transaction, and their replies go
  // out only after it commits. One fsync covers the batch, so durable
  // leases do not cap the rate at one client per disk flush.
  const queue: Array<{ msg: Buffer; from: { address: string; port: number }; via: Via; sock: dgram.Socket }> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = queue.splice(0);
    let outs: Array<ReturnType<typeof processDatagram>>;
    try {
      outs = store.db.transaction(() => batch.map((b) => processDatagram(ctx, metrics, b.msg, b.from, b.via)))();
    } catch (err) {
      metrics.drops['store-failed'] = (metrics.drops['store-failed'] ?? 0) + batch.length;
      dlog.error({ err, packets: batch.length }, 'dhcp: store write failed; no replies sent for this batch');
      return;
    }
    outs.forEach((out, i) => {
      if (!out) return;
      batch[i]!.sock.send(out.bytes, out.to.port, out.to.address, (err) => {
        if (!err) return;
        metrics.sendErrors++;
        dlog.warn({ err, to: out.to }, 'dhcp: send failed');
      });
    });
  };

  const sockets: dgram.Socket[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      const via: Via = i === 0 ? 'dhcp' : 'proxy';
      const fd = openUdp4(deps.provisioning.iface, port);
      const sock = dgram.createSocket({ type: 'udp4' });
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ fd }, () => (sock.off('error', reject), resolve()));
      });
      sock.on('error', (err) => dlog.error({ err, port }, 'dhcp socket error'));
      sock.on('message', (msg, rinfo) => {
        queue.push({ msg, from: { address: rinfo.address, port: rinfo.port }, via, sock });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
      sockets.push(sock);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw new Error(`DHCP cannot listen on ${deps.provisioning.iface}: ${(err as Error).message}`);
  }

  const sweep = setInterval(() => {
    try {
      const n = ctx.leases.sweep();
      if (n) dlog.debug({ changed: n }, 'dhcp: expired leases reclaimed');
    } catch (err) {
      dlog.error({ err }, 'dhcp: lease sweep failed');
    }
  }, 30_000);
  sweep.unref();
  ctx.leases.sweep();
  dlog.info({ mode: settings.dhcp.mode, iface: deps.provisioning.iface, address: deps.provisioning.address, ports }, 'dhcp serving');

  return {
    name: 'dhcp',
    ports,
    metrics: () => structuredClone(metrics),
    async close() {
      clearInterval(sweep);
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
