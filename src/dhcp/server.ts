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
import { bindListener, listenerAddress } from '../net/listener.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import type { Inventory } from '../inventory/types.js';
import { ukiSource } from '../factory/uki.js';
import { Leases } from './leases.js';
import { OfferBook, type HandlerContext, type Via } from './handler/common.js';
import { PROXY_PORT } from './handler/proxy.js';
import { answerBatchDurably, newMetrics, StoreRefusals, type Datagram, type DhcpMetrics, type Reply } from './answer.js';
import { answerShared, replaceBook, sharedBacklog, withReleasedExpiry } from './sharing.js';
import { sqliteOutbox } from './freed-outbox.js';
import { PgDhcpSegment, segmentName } from '../store/pg/dhcp-segment.js';
import { WalFlusher, writeBehind } from '../store/wal-flush.js';
import { unicastTarget } from './unicast.js';

export { ADDON_BUILD } from '../net/addon.js';

export interface DhcpService {
  name: string;
  close(): Promise<void>;
  metrics(): DhcpMetrics;
  /** The ports actually bound (67, and 4011 in proxy mode, unless overridden for tests). */
  ports: number[];
  /** branch pg-dhcp6: the segment lock DHCPv6 answers under too (scaleOut.postgres only). */
  segment?: PgDhcpSegment;
}

export interface DhcpDeps {
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  log: Logger;
  publicUrl: string;
  /** The provisioning interface and our address on it (resolveProvisioningAddress). */
  provisioning: { iface: string; address: string };
  /** The loaded inventory: its schematic and version name an httpBoot: uki node's UKI. */
  inventory?: () => Inventory | undefined;
  now?: () => number;
}

type OpenUdp4 = (ifname: string, port: number) => number;

/** Loads the addon's interface-bound UDP socket, or explains how to build it. */
export function loadBindToDevice(path?: string): OpenUdp4 {
  return loadInterfaceSockets('DHCP', path).openUdp4;
}

export async function startDhcpService(deps: DhcpDeps, opts: { ports?: { dhcp: number; proxy: number } } = {}): Promise<DhcpService> {
  const { settings, store, log } = deps;
  if (settings.dhcp.mode === 'off') throw new Error('startDhcpService called with dhcp.mode off');
  const addon = loadInterfaceSockets('DHCP');
  const openUdp4 = addon.openUdp4;
  const now = deps.now ?? Date.now;
  const dlog = log.child({ svc: 'dhcp' });
  const leases = new Leases(store.db, now);
  const ctx: HandlerContext = {
    settings, store, lifecycle: deps.lifecycle, leases, serverAddress: deps.provisioning.address,
    publicUrl: deps.publicUrl, offers: new OfferBook(now), log: dlog, now,
    inTftpRoot: (file) => !file.includes('/') && existsSync(join(settings.tftp.root, file)),
    ukiFor: ukiSource(settings.assetsDir, () => deps.inventory?.(), deps.publicUrl),
  };
  const metrics = newMetrics();
  const dhcpPort = opts.ports?.dhcp ?? 67;
  const ports = settings.dhcp.mode === 'proxy' ? [dhcpPort, opts.ports?.proxy ?? PROXY_PORT] : [dhcpPort];

  // Datagrams that arrive while the previous batch was being handled are
  // answered together (group commit, see answer.ts): one fsync covers the
  // batch, so durable leases do not cap the rate at one client per flush.
  // That flush runs in the thread pool (WalFlusher): the loop answers the
  // next batch while the disk works, and a batch's ACKs wait for it.
  // dhcp.leaseDurability 'process': the commit alone; the fdatasync follows without the ACK waiting (wal-flush.ts says what each keeps).
  const flusher = settings.dhcp.leaseDurability === 'process' ? writeBehind(WalFlusher.forDatabase(store.db)) : WalFlusher.forDatabase(store.db);
  const queue: Array<Datagram & { sock: dgram.Socket }> = [];
  const refusals = new StoreRefusals(dlog, now);
  // Several appliances on this segment (scaleOut.postgres): one answers.
  const conninfo = settings.scaleOut?.postgres;
  const sharing: PgDhcpSegment | undefined = conninfo
    ? await PgDhcpSegment.start({
      conninfo, segment: segmentName(settings), pollMs: settings.scaleOut?.dhcpPollMs,
      adopt: (rows) => leases.adopt(rows), replace: (rows) => replaceBook(store.db, leases, rows), outbox: sqliteOutbox(store.db), log: dlog, now,
    })
    : undefined;
  if (sharing) leases.onFreed = (change) => void sharing.recordFreed(withReleasedExpiry(leases, change));
  const backlog = sharedBacklog();
  let scheduled = false;
  const iface = deps.provisioning.iface;
  /** The addon's descriptor behind each socket: setArp needs one. */
  const fds = new Map<dgram.Socket, number>();
  let arpRefusalLogged = false;
  /** Unicast to the client's MAC where RFC 2131 §4.1 says so and the neighbour entry can be written (unicast.ts). */
  const destinationOf = (sock: dgram.Socket, out: Reply): { address: string; port: number } => {
    const target = unicastTarget(out.outcome);
    if (!target) return out.to;
    try {
      if (!addon.setArp) throw new Error('the bindtodevice addon predates setArp; rebuild it');
      addon.setArp(fds.get(sock)!, iface, target.ip, target.mac);
      metrics.unicastReplies++;
      return { address: target.ip, port: out.to.port };
    } catch (err) {
      metrics.unicastFallbacks++;
      if (!arpRefusalLogged) dlog.warn({ err, iface }, 'dhcp: cannot write neighbour entries; OFFERs and ACKs are broadcast');
      arpRefusalLogged = true;
      return out.to;
    }
  };
  const send = (batch: typeof queue, replies: Array<Reply | undefined>) => replies.forEach((out, i) => {
    if (!out) return;
    const failed = (err: Error) => {
      metrics.sendErrors++;
      dlog.warn({ err, to: out.to }, 'dhcp: send failed');
    };
    try {
      const sock = batch[i]!.sock;
      const to = destinationOf(sock, out);
      sock.send(out.bytes, to.port, to.address, (err) => {
        if (!err) return;
        if (to === out.to) return failed(err);
        // No route to yiaddr on this interface (a pool outside its subnet): broadcast after all.
        metrics.unicastReplies--;
        metrics.unicastFallbacks++;
        try {
          sock.send(out.bytes, out.to.port, out.to.address, (again) => again && failed(again));
        } catch (closed) {
          failed(closed as Error);
        }
      });
    } catch (err) {
      failed(err as Error); // the socket closed while the reply waited for its flush
    }
  });
  const flush = () => {
    scheduled = false;
    const batch = queue.splice(0);
    // OFFERs leave at once; ACKs after the flush that covers their binding.
    if (!sharing) return answerBatchDurably(ctx, metrics, batch, refusals, flusher, (replies) => send(batch, replies), (offers) => send(batch, offers));
    // At most MAX_SHARED_WAITING packets wait for the database; the rest are dropped and counted.
    const admitted = backlog.admit(batch.length);
    const excess = batch.splice(admitted).length;
    if (excess) {
      metrics.received += excess;
      metrics.drops['shared-backlog'] = (metrics.drops['shared-backlog'] ?? 0) + excess;
    }
    if (admitted === 0) return;
    // The book is refreshed from PostgreSQL before the batch is decided; its ACKs wait for the local flush, then for PostgreSQL.
    const answered = () => new Promise<Array<Reply | undefined>>((resolve) => answerBatchDurably(ctx, metrics, batch, refusals, flusher, resolve));
    void answerShared(ctx, sharing, metrics, batch.length, answered)
      .then((out) => send(batch, out), (err) => dlog.error({ err }, 'dhcp: shared commit failed'))
      .finally(() => backlog.done(admitted));
  };

  const sockets: dgram.Socket[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      const via: Via = i === 0 ? 'dhcp' : 'proxy';
      const sock = await bindListener(via === 'dhcp' ? 'DHCP' : 'proxyDHCP', listenerAddress('udp', '0.0.0.0', port, deps.provisioning.iface), async () => {
        const fd = openUdp4(deps.provisioning.iface, port);
        const s = dgram.createSocket({ type: 'udp4' });
        fds.set(s, fd);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind({ fd }, () => (s.off('error', reject), resolve()));
        });
        return s;
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
    await sharing?.close();
    await flusher?.close();
    throw err;
  }

  // Also at start: a full disk must not keep DHCP from answering what it can.
  const sweepLeases = () => {
    try {
      const n = ctx.leases.sweep();
      if (n) dlog.debug({ changed: n }, 'dhcp: expired leases reclaimed');
    } catch (err) {
      dlog.error({ err }, 'dhcp: lease sweep failed');
    }
  };
  const sweep = setInterval(sweepLeases, 30_000);
  sweep.unref();
  sweepLeases();
  dlog.info({
    mode: settings.dhcp.mode, iface: deps.provisioning.iface, address: deps.provisioning.address, ports, answering: sharing?.answering() ?? true,
    leaseDurability: settings.dhcp.leaseDurability, receiveBuffer: sockets[0]?.getRecvBufferSize(),
  }, 'dhcp serving');

  return {
    name: 'dhcp',
    ports,
    segment: sharing,
    metrics: () => (sharing ? { ...structuredClone(metrics), segment: sharing.status() } : structuredClone(metrics)),
    async close() {
      clearInterval(sweep);
      // ACKs waiting for a flush go out before their socket closes.
      await flusher?.close();
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await sharing?.close();
    },
  };
}
