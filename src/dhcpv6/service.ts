// The DHCPv6 service: two UDP sockets around handleDhcpv6. One is bound to
// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) scoped to the provisioning
// interface, which is where clients on our link send (RFC 8415 §7.1) and
// binds the socket to that interface; the other to our own address, where
// relays send Relay-Forward (§19.1). Replies go back to the sender's
// address and port: the client's link-local address (port 546) or the relay.
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import { bindListener, listenerAddress } from '../net/listener.js';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS, SERVER_PORT } from './codec.js';
import { duidLl } from './options.js';
import { Leases6 } from './leases.js';
import { Advertised } from './advertised.js';
import { handleDhcpv6, type Outcome6, type V6Context } from './policy.js';
import { answerQueue, answerShared6 } from './sharing.js';
import { MAX_SHARED_WAITING } from '../dhcp/sharing.js';
import { PgDhcpv6Book } from '../store/pg/dhcpv6-book.js';
import type { PgDhcpSegment } from '../store/pg/dhcp-segment.js';

export interface Dhcpv6Metrics {
  received: number; replies: Record<string, number>; drops: Record<string, number>; sendErrors: number;
  /** scaleOut.postgres: who answers the segment (dhcpv6_segment_*), beside DHCPv4's dhcp_segment_*. */
  segment?: object;
}

export interface Dhcpv6Service {
  name: 'dhcpv6';
  close(): Promise<void>;
  metrics(): Dhcpv6Metrics;
}

export interface Dhcpv6Deps {
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  log: Logger;
  iface: string;
  /** The provisioning interface's MAC: our DUID-LL. */
  mac: string;
  /** The boot plane's port: URLs are http://[dhcpv6.address]:port. */
  httpPort: number;
  now?: () => number;
  /** Tests bind elsewhere; production uses 547. */
  port?: number;
  /** DHCPv4's segment lock on this appliance (scaleOut.postgres): DHCPv6 answers under it too. */
  segment?: PgDhcpSegment;
}

export async function startDhcpv6Service(deps: Dhcpv6Deps): Promise<Dhcpv6Service> {
  const { settings, log } = deps;
  const d6 = settings.dhcpv6;
  if (!d6.enabled || !d6.address) throw new Error('startDhcpv6Service called without dhcpv6.enabled and dhcpv6.address');
  const now = deps.now ?? Date.now;
  const port = deps.port ?? SERVER_PORT;
  const ctx: V6Context = {
    settings: d6, dhcp: settings.dhcp, lifecycle: deps.lifecycle, leases: new Leases6(deps.store.db, now), advertised: new Advertised(now),
    serverDuid: duidLl(deps.mac), httpUrl: `http://[${d6.address}]:${deps.httpPort}`,
    inTftpRoot: (file) => !file.includes('/') && existsSync(join(settings.tftp.root, file)), log,
  };
  const metrics: Dhcpv6Metrics = { received: 0, replies: {}, drops: {}, sendErrors: 0 };
  const bump = (rec: Record<string, number>, k: string) => { rec[k] = (rec[k] ?? 0) + 1; };
  // Several appliances on this segment (scaleOut.postgres): one answers, and PostgreSQL's table is the book.
  const sharing = settings.scaleOut?.postgres ? await PgDhcpv6Book.start({ settings, book: ctx.leases, segment: deps.segment, log, now }) : undefined;
  const shared = answerQueue();

  const answer = (msg: Buffer, from: string): Outcome6 => {
    const out = handleDhcpv6(ctx, msg, from);
    // A store that refuses writes (disk full, read-only) still lets us send
    // what needs none: Advertise, Confirm and Information-Request replies.
    return out.kind === 'drop' && out.reason === 'internal-error' ? handleDhcpv6({ ...ctx, readOnly: true }, msg, from) : out;
  };
  const onMessage = (sock: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    metrics.received++;
    if (!sharing) return respond(sock, rinfo, answer(msg, rinfo.address));
    const answered = shared.push(() => answerShared6(ctx.leases, sharing, () => answer(msg, rinfo.address)));
    if (!answered) return respond(sock, rinfo, { kind: 'drop', reason: 'shared-backlog', detail: `${MAX_SHARED_WAITING} datagrams wait for the shared store` });
    answered.then((out) => respond(sock, rinfo, out), (err) => log.error({ err }, 'dhcpv6: shared answer failed'));
  };
  const respond = (sock: dgram.Socket, rinfo: dgram.RemoteInfo, out: Outcome6) => {
    if (out.kind === 'drop') {
      bump(metrics.drops, out.reason);
      log.debug({ from: rinfo.address, reason: out.reason, detail: out.detail }, 'dhcpv6: no reply');
      return;
    }
    bump(metrics.replies, out.type);
    log.info({ from: rinfo.address, reply: out.type, detail: out.detail }, 'dhcpv6 reply');
    try {
      sock.send(out.bytes, rinfo.port, rinfo.address, (err) => {
        if (!err) return;
        metrics.sendErrors++;
        log.warn({ err, to: rinfo.address }, 'dhcpv6: send failed');
      });
    } catch (err) {
      metrics.sendErrors++; // the socket closed while the Reply waited for its commit
      log.warn({ err, to: rinfo.address }, 'dhcpv6: send failed');
    }
  };

  const sockets: dgram.Socket[] = [];
  const open = async (address: string, join?: string) => {
    const sock = await bindListener('DHCPv6', listenerAddress('udp', address, port, join ? deps.iface : undefined), () => new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket({ type: 'udp6', reuseAddr: true });
      s.once('error', reject);
      s.bind({ address, port }, () => {
        s.off('error', reject);
        try {
          if (join) s.addMembership(join, `::%${deps.iface}`);
          resolve(s);
        } catch (err) {
          s.close();
          reject(err);
        }
      });
    }));
    sock.on('error', (err) => log.error({ err }, 'dhcpv6 socket error'));
    sock.on('message', onMessage(sock));
    sockets.push(sock);
  };
  try {
    await open(`${ALL_DHCP_RELAY_AGENTS_AND_SERVERS}%${deps.iface}`, ALL_DHCP_RELAY_AGENTS_AND_SERVERS);
    await open(d6.address);
  } catch (err) {
    for (const s of sockets) s.close();
    await sharing?.close();
    throw err;
  }
  const sweep = setInterval(() => {
    try { ctx.leases.sweep(); } catch (err) { log.error({ err }, 'dhcpv6: lease sweep failed'); }
  }, 30_000);
  sweep.unref();
  log.info({ iface: deps.iface, address: d6.address, prefix: d6.prefix, pool: d6.pool, port, answering: sharing?.answering() ?? true }, 'dhcpv6 serving');
  return {
    name: 'dhcpv6',
    metrics: () => (sharing ? { ...structuredClone(metrics), segment: sharing.status() } : structuredClone(metrics)),
    async close() {
      clearInterval(sweep);
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await shared.idle();
      await sharing?.close();
    },
  };
}
