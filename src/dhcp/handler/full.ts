// Full mode: authoritative for the provisioning subnet (and relayed subnets
// in settings.dhcp.relays). RFC 2131 §4.3: DISCOVER/OFFER, REQUEST/ACK/NAK
// in SELECTING, INIT-REBOOT, RENEWING and REBINDING, RELEASE, DECLINE,
// INFORM. Who gets what comes from the Lifecycle and the inventory.
import { MessageType as T, type DhcpPacket, type OutgoingPacket } from '../codec.js';
import { enc, Opt } from '../options.js';
import { inSubnet, ipToInt, parseCidr, ZERO, type Subnet } from '../ipv4.js';
import type { Pool } from '../../settings/settings.js';
import type { BootAction } from '../../lifecycle/boot.js';
import { storableText } from '../../store/client-text.js';
import {
  addBootFile, bootFileFor, destination, drop, finish, isEthernet, nakFlags, recordEvent, replyLimit, replySkeleton, sight, sightingOf,
  type HandlerContext, type Outcome, type Received,
} from './common.js';

/** How long an address a client declined stays out of the pool. */
const DECLINE_QUARANTINE_SECONDS = 600;

interface Scope {
  subnet: Subnet;
  pool?: Pool;
  gateway?: string;
  dns: string[];
}

/** The subnet a request belongs to: the relay's (by giaddr, RFC 2131 §4.3.1) or ours. */
export function scopeFor(ctx: HandlerContext, req: DhcpPacket): Scope | undefined {
  const d = ctx.settings.dhcp;
  const own = d.subnet ? { subnet: parseCidr(d.subnet), pool: d.pool, gateway: d.gateway, dns: d.dns } : undefined;
  if (req.giaddr !== ZERO) {
    const r = d.relays.find((x) => inSubnet(req.giaddr, parseCidr(x.subnet)));
    if (r) return { subnet: parseCidr(r.subnet), pool: r.pool, gateway: r.gateway ?? req.giaddr, dns: r.dns ?? d.dns };
    // A relay agent sitting on our own subnet (perfdhcp works this way).
    return own && inSubnet(req.giaddr, own.subnet) ? own : undefined;
  }
  return own;
}

const inPool = (ip: string, pool: Pool | undefined) =>
  pool !== undefined && ipToInt(ip) >= ipToInt(pool.start) && ipToInt(ip) <= ipToInt(pool.end);

/** The inventory reservation in this scope, if the node has one there. */
function reservation(action: BootAction, scope: Scope): string | undefined {
  const ip = action.kind === 'unknown' ? undefined : action.node.ip ?? undefined;
  return ip && inSubnet(ip, scope.subnet) ? ip : undefined;
}

/** Whether `mac` may hold `ip` now; undefined when we have no opinion (no record, outside any pool). */
function mayHold(ctx: HandlerContext, mac: string, ip: string, action: BootAction, scope: Scope): boolean {
  const reserved = reservation(action, scope);
  if (reserved) return ip === reserved;
  if (!inSubnet(ip, scope.subnet) || !inPool(ip, scope.pool)) return false;
  return !ctx.leases.heldByOther(ip, mac) && !ctx.offers.heldForOther(ip, mac);
}

/**
 * Whether `ip` is this client's: its reservation, else its lease (any state
 * but declined) or, with `offerCounts`, the offer held for it; and nobody
 * else's meanwhile.
 */
function isClients(ctx: HandlerContext, mac: string, ip: string, action: BootAction, scope: Scope, offerCounts: boolean): boolean {
  const reserved = reservation(action, scope);
  if (reserved) return ip === reserved;
  const lease = ctx.leases.get(mac);
  const mine = (lease !== undefined && lease.state !== 'declined' && lease.ip === ip) || (offerCounts && ctx.offers.heldFor(mac) === ip);
  return mine && mayHold(ctx, mac, ip, action, scope);
}

/** Options 1, 3, 6, 15, 28, and with `leaseSeconds` the lease time and its T1/T2 (51, 58, 59). */
function addNetworkOptions(ctx: HandlerContext, reply: OutgoingPacket, scope: Scope, leaseSeconds?: number): void {
  reply.options.push([Opt.SUBNET_MASK, enc.ip(scope.subnet.mask)]);
  if (scope.gateway) reply.options.push([Opt.ROUTER, enc.ip(scope.gateway)]);
  if (scope.dns.length) reply.options.push([Opt.DNS, enc.ips(scope.dns)]);
  if (ctx.settings.dhcp.domain) reply.options.push([Opt.DOMAIN_NAME, enc.str(ctx.settings.dhcp.domain)]);
  reply.options.push([Opt.BROADCAST, enc.ip(scope.subnet.broadcast)]);
  if (leaseSeconds !== undefined) {
    reply.options.push(
      [Opt.LEASE_TIME, enc.u32(leaseSeconds)], [Opt.RENEWAL_TIME, enc.u32(Math.floor(leaseSeconds / 2))],
      [Opt.REBINDING_TIME, enc.u32(Math.floor((leaseSeconds * 7) / 8))],
    );
  }
}

export function handleFull(ctx: HandlerContext, rx: Received): Outcome {
  const req = rx.packet;
  if (rx.via !== 'dhcp') return drop('wrong-port', 'full mode does not serve the ProxyDHCP port');
  if (!isEthernet(req)) return drop('not-request', `htype ${req.htype}/hlen ${req.hlen} is not Ethernet`);
  const scope = scopeFor(ctx, req);
  if (!scope) return drop('unknown-relay', `no subnet in settings.dhcp.relays contains giaddr ${req.giaddr}`);
  switch (req.options.messageType) {
    case T.DISCOVER: return discover(ctx, req, scope);
    case T.REQUEST: return request(ctx, req, scope, rx.from);
    case T.RELEASE: return release(ctx, req);
    case T.DECLINE: return decline(ctx, req, scope);
    case T.INFORM: return inform(ctx, req, scope);
    default: return drop('unsupported-type', `message type ${req.options.messageType}`);
  }
}

// An OFFER needs no stored write, so it goes out even while the store
// refuses writes: the hold on the address is in memory (OfferBook), and the
// address is bound, durably, only when the REQUEST that follows is ACKed.
// Only the sighting goes unrecorded then.
//
// RFC 2131 §4.3.1 says which address to offer: the client's current
// binding, else its last one if still free, else the address it asked for
// (option 50) "if that address is valid and not already allocated", else a
// new one. Ours: an inventory reservation first (it is the binding the
// operator chose), then the address last offered to this client unless
// someone has it now, so a retransmitted DISCOVER (OVMF sends several,
// same xid) gets the same address, then the lease, the requested address
// and a fresh one (Leases.allocate).
function discover(ctx: HandlerContext, req: DhcpPacket, scope: Scope): Outcome {
  const action = sight(ctx, req);
  const ip = reservation(action, scope) ?? poolOffer(ctx, req, scope);
  if (!ip) {
    return drop('no-address', action.kind === 'unknown' ? 'unknown MAC and no pool' : `${action.node.name} has no ip in this subnet and no pool is free`);
  }
  ctx.offers.hold(req.mac, ip);
  const reply = replySkeleton(req, T.OFFER, ctx.serverAddress);
  reply.yiaddr = ip;
  addNetworkOptions(ctx, reply, scope, ctx.settings.dhcp.leaseSeconds);
  const boot = bootFileFor(ctx, req, action);
  addBootFile(ctx, req, reply, boot);
  return { kind: 'reply', type: 'offer', packet: finish(req, reply), to: destination(req, false), maxSize: replyLimit(req), detail: `offer ${ip}, ${describe(boot)}` };
}

function poolOffer(ctx: HandlerContext, req: DhcpPacket, scope: Scope): string | undefined {
  if (!scope.pool) return undefined;
  const held = ctx.offers.lastOffered(req.mac);
  if (held && inPool(held, scope.pool) && !ctx.leases.heldByOther(held, req.mac)) return held;
  const requested = req.options.requestedIp;
  return ctx.leases.allocate(req.mac, scope.pool, (ip) => ctx.offers.heldForOther(ip, req.mac), requested);
}

function nak(ctx: HandlerContext, req: DhcpPacket, why: string): Outcome {
  const reply = replySkeleton(req, T.NAK, ctx.serverAddress);
  reply.flags = nakFlags(req);
  reply.options.push([Opt.MESSAGE, enc.str(why)]);
  return { kind: 'reply', type: 'nak', packet: finish(req, reply), to: destination(req, true), maxSize: replyLimit(req), detail: `nak: ${why}` };
}

// RFC 2131 §4.3.2, per client state:
// - SELECTING (option 54 names us): the address must be the one we offered
//   (or the client's reservation or lease): "the server SHOULD respond with
//   a DHCPNAK" to an invalid requested address.
// - INIT-REBOOT (option 50, no 54, no ciaddr): "the server SHOULD send a
//   DHCPNAK message to the client if the 'requested IP address' is
//   incorrect", and it "MUST remain silent" with no record of the client.
//   We NAK any address that is not the client's reservation, lease or
//   offer, free ones included: the client goes back to INIT, and its
//   DISCOVER gets its binding (or, with none, the address it asks for if
//   free; §4.3.1). dnsmasq instead ACKs a free address here and moves the
//   lease; we do not, so a lease never moves without a DISCOVER.
// - RENEWING / REBINDING (ciaddr, no option 50): only the client's own
//   binding is extended, and only when the packet comes from that address
//   (or through a relay); the ACK goes to ciaddr, which is then the sender.
function request(ctx: HandlerContext, req: DhcpPacket, scope: Scope, from: Received['from']): Outcome {
  const o = req.options;
  // SELECTING names its server; a REQUEST for another server means our offer was not taken.
  if (o.serverId && o.serverId !== ctx.serverAddress) {
    ctx.offers.forget(req.mac);
    return drop('other-server', `client chose server ${o.serverId}`);
  }
  const selecting = o.serverId !== undefined;
  const renewing = !selecting && o.requestedIp === undefined && req.ciaddr !== ZERO;
  const wanted = o.requestedIp ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
  if (!wanted) return nak(ctx, req, 'no requested address');
  const action = ctx.lifecycle.bootActionForMac(req.mac);
  if (!selecting) {
    const known = reservation(action, scope) !== undefined || ctx.leases.get(req.mac) !== undefined;
    if (!inSubnet(wanted, scope.subnet)) return nak(ctx, req, `${wanted} is not on this network`);
    if (!known) return drop('no-record', `no record of ${req.mac} requesting ${wanted}`);
  }
  if (renewing && req.giaddr === ZERO && from.address !== ZERO && from.address !== req.ciaddr) {
    return nak(ctx, req, `ciaddr ${req.ciaddr} is not the sender ${from.address}`);
  }
  if (!isClients(ctx, req.mac, wanted, action, scope, !renewing)) return nak(ctx, req, `${wanted} is not this client's address`);
  if (ctx.readOnly) return ackStoredLease(ctx, req, scope, action, wanted);

  const expiresAt = ctx.leases.bind(req.mac, wanted, ctx.settings.dhcp.leaseSeconds, {
    clientId: o.clientId?.toString('hex'), hostname: storableText(o.hostname),
  });
  // The offer stays in the book (it lapses by itself): if the store then
  // fails to commit this binding, the packet is decided again read-only and
  // must still find the offer it was answering.
  return ack(ctx, req, scope, action, wanted, ctx.settings.dhcp.leaseSeconds, expiresAt);
}

/**
 * With the store refusing writes, the only lease that may be ACKed is one
 * it already holds, bound to this client for this address, and only for the
 * time it has left: the client then keeps the address no longer than the
 * store keeps it for the client, so no other client can be given it
 * meanwhile. A node that renews or reboots while the disk is full keeps its
 * address; a new binding waits until the store takes writes again.
 */
function ackStoredLease(ctx: HandlerContext, req: DhcpPacket, scope: Scope, action: BootAction, wanted: string): Outcome {
  const held = ctx.leases.get(req.mac);
  const left = held?.state === 'bound' && held.ip === wanted ? Math.floor((held.expiresAt - ctx.now()) / 1000) : 0;
  if (left < 1) return drop('store-failed', `the store refuses writes: cannot bind ${wanted} to ${req.mac}`);
  const out = ack(ctx, req, scope, action, wanted, left, held!.expiresAt);
  return { ...out, detail: `${out.detail} (the stored lease's last ${left}s: the store refuses writes)` };
}

function ack(ctx: HandlerContext, req: DhcpPacket, scope: Scope, action: BootAction, ip: string, seconds: number, expiresAt: number): Outcome {
  const reply = replySkeleton(req, T.ACK, ctx.serverAddress);
  reply.yiaddr = ip;
  reply.ciaddr = req.ciaddr;
  addNetworkOptions(ctx, reply, scope, seconds);
  const boot = bootFileFor(ctx, req, action);
  addBootFile(ctx, req, reply, boot);
  const detail = `ack ${ip} until ${new Date(expiresAt).toISOString()}, ${describe(boot)}`;
  if (action.kind !== 'unknown') {
    recordEvent(ctx, { node: action.node.name, mac: req.mac, kind: 'dhcp', message: detail, data: sightingOf(req) });
  }
  return { kind: 'reply', type: 'ack', packet: finish(req, reply), to: destination(req, false), maxSize: replyLimit(req), detail };
}

function release(ctx: HandlerContext, req: DhcpPacket): Outcome {
  if (req.options.serverId && req.options.serverId !== ctx.serverAddress) return drop('other-server', `release for ${req.options.serverId}`);
  // Unstored, the lease stays bound until it expires: the address is idle meanwhile, never given twice.
  if (ctx.readOnly) return drop('store-failed', `the store refuses writes: release of ${req.ciaddr} by ${req.mac} not recorded`);
  const released = ctx.leases.release(req.mac, req.ciaddr);
  return released ? { kind: 'done', counter: 'release', detail: `released ${req.ciaddr}` } : drop('no-record', `no lease ${req.ciaddr} for ${req.mac}`);
}

function decline(ctx: HandlerContext, req: DhcpPacket, scope: Scope): Outcome {
  const ip = req.options.requestedIp;
  if (req.options.serverId !== ctx.serverAddress || !ip) return drop('other-server', 'decline without our server id or address');
  // Only an address we could have given this client can be quarantined: a
  // forged DECLINE must not fence off arbitrary addresses.
  const lease = ctx.leases.get(req.mac);
  if (lease?.ip !== ip && !inPool(ip, scope.pool)) return drop('no-record', `decline of ${ip}, which ${req.mac} does not hold`);
  if (ctx.readOnly) return drop('store-failed', `the store refuses writes: decline of ${ip} by ${req.mac} not recorded`);
  ctx.leases.decline(req.mac, ip, DECLINE_QUARANTINE_SECONDS);
  const node = ctx.store.nodeByMac(req.mac);
  ctx.store.appendEvent({ node: node?.name ?? null, mac: req.mac, kind: 'dhcp', message: `declined ${ip}: address quarantined for ${DECLINE_QUARANTINE_SECONDS}s` });
  return { kind: 'done', counter: 'decline', detail: `declined ${ip}` };
}

function inform(ctx: HandlerContext, req: DhcpPacket, scope: Scope): Outcome {
  if (req.ciaddr === ZERO) return drop('no-address', 'INFORM without ciaddr');
  // RFC 2131 §4.3.5: no lease time and no yiaddr.
  const reply = replySkeleton(req, T.ACK, ctx.serverAddress);
  reply.ciaddr = req.ciaddr;
  addNetworkOptions(ctx, reply, scope);
  return { kind: 'reply', type: 'inform', packet: finish(req, reply), to: destination(req, false), maxSize: replyLimit(req), detail: `inform ${req.ciaddr}` };
}

function describe(boot: ReturnType<typeof bootFileFor>): string {
  return boot.kind === 'file' ? `boot file ${boot.file} (${boot.why})` : `no boot file (${boot.why})`;
}
