// What both modes share: the handler's inputs and outcomes, reply skeletons
// and where a reply goes (RFC 2131 §4.1, RFC 3046 §2.2 for option 82).
import type { Logger } from '../../log.js';
import type { Lifecycle } from '../../lifecycle/lifecycle.js';
import type { BootAction } from '../../lifecycle/boot.js';
import type { Settings } from '../../settings/settings.js';
import type { NodeRecord, Store } from '../../store/store.js';
import { BOOTREPLY, DEFAULT_MAX_MESSAGE, type DhcpPacket, type OutgoingPacket } from '../codec.js';
import { ARCH_NAMES, chooseBootFile, isIpxe, type BootFile } from '../boot-file.js';
import { enc, IPXE_NO_PXEDHCP, Opt } from '../options.js';
import type { Leases } from '../leases.js';
import { BROADCAST, ZERO } from '../ipv4.js';

/** Largest reply we send whatever the client allows: one Ethernet frame (1500 − IP − UDP). */
export const MAX_REPLY = 1472;
export const BROADCAST_FLAG = 0x8000;

export interface HandlerContext {
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  leases: Leases;
  /** Our address on the provisioning network: option 54 and siaddr. */
  serverAddress: string;
  publicUrl: string;
  inTftpRoot: (file: string) => boolean;
  /** An httpBoot: uki node's UKI URL for the NIC `askingMac` (one of its MACs), or why it has none. */
  ukiFor?: (node: NodeRecord, askingMac: string) => { url: string } | { why: string };
  offers: OfferBook;
  log: Logger;
  now: () => number;
  /**
   * The store refused this packet's writes (disk full, read-only): answer
   * from reads alone and write nothing. What needs a stored write is
   * dropped as 'store-failed'; what is only history goes unrecorded.
   */
  readOnly?: boolean;
}

export interface Received {
  packet: DhcpPacket;
  from: { address: string; port: number };
  /** Which socket it arrived on: the DHCP port (67) or the ProxyDHCP port (4011). */
  via: Via;
}

export type Via = 'dhcp' | 'proxy';
export type ReplyKind = 'offer' | 'ack' | 'nak' | 'inform' | 'proxy-offer' | 'proxy-ack';
export type DropReason =
  | 'not-request' | 'not-pxe' | 'unknown-mac' | 'no-boot-file' | 'other-server' | 'unknown-relay'
  | 'no-address' | 'unsupported-type' | 'no-record' | 'wrong-port' | 'encode-failed' | 'internal-error' | 'store-failed';

export type Outcome =
  | { kind: 'reply'; type: ReplyKind; packet: OutgoingPacket; to: { address: string; port: number }; maxSize: number; detail: string }
  | { kind: 'done'; counter: 'release' | 'decline'; detail: string }
  | { kind: 'drop'; reason: DropReason; detail: string };

export const drop = (reason: DropReason, detail: string): Outcome => ({ kind: 'drop', reason, detail });

/**
 * Addresses offered and not yet requested, so two clients are never offered
 * one address. Bounded: the oldest hold goes first when a flood of MACs
 * would otherwise grow it without limit.
 */
export class OfferBook {
  private readonly byMac = new Map<string, { ip: string; until: number }>();
  private readonly byIp = new Map<string, { mac: string; until: number }>();
  constructor(private readonly now: () => number, private readonly holdMs = 30_000, private readonly max = 65_536) {}

  hold(mac: string, ip: string): void {
    this.forget(mac);
    const until = this.now() + this.holdMs;
    this.byMac.set(mac, { ip, until });
    this.byIp.set(ip, { mac, until });
    if (this.byMac.size > this.max) this.forget(this.byMac.keys().next().value!);
  }

  forget(mac: string): void {
    const h = this.byMac.get(mac);
    if (!h) return;
    this.byMac.delete(mac);
    if (this.byIp.get(h.ip)?.mac === mac) this.byIp.delete(h.ip);
  }

  /** The address offered to `mac`, while that offer still stands. */
  heldFor(mac: string): string | undefined {
    const h = this.byMac.get(mac);
    return h && h.until > this.now() ? h.ip : undefined;
  }

  /** The address last offered to `mac`, even once the hold lapsed (until another MAC is offered it). */
  lastOffered(mac: string): string | undefined {
    const ip = this.byMac.get(mac)?.ip;
    return ip !== undefined && !this.heldForOther(ip, mac) ? ip : undefined;
  }

  /** True when `ip` is offered to a MAC other than `mac` and the offer still stands. */
  heldForOther(ip: string, mac: string): boolean {
    const h = this.byIp.get(ip);
    if (!h || h.mac === mac) return false;
    if (h.until > this.now()) return true;
    this.forget(h.mac);
    return false;
  }
}

/** The client's size limit (option 57), capped at one frame. */
export function replyLimit(p: DhcpPacket): number {
  return Math.min(p.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE, MAX_REPLY);
}

export function replySkeleton(req: DhcpPacket, type: number, serverId: string): OutgoingPacket {
  return {
    op: BOOTREPLY, htype: req.htype, hlen: req.hlen, xid: req.xid, flags: req.flags, giaddr: req.giaddr, chaddr: req.chaddr,
    options: [[Opt.MESSAGE_TYPE, enc.u8(type)], [Opt.SERVER_ID, enc.ip(serverId)]],
  };
}

/** RFC 3046 §2.2: the relay agent option goes back unchanged, as the last option. */
export function finish(req: DhcpPacket, reply: OutgoingPacket): OutgoingPacket {
  if (req.options.relayAgent) reply.options.push([Opt.RELAY_AGENT, req.options.relayAgent.raw]);
  return reply;
}

/** RFC 2131 §4.1: relay first, then a configured client, else broadcast (we cannot unicast to an address the client has not configured without ARP injection). */
export function destination(req: DhcpPacket, nak: boolean): { address: string; port: number } {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: 67 };
  if (!nak && req.ciaddr !== ZERO) return { address: req.ciaddr, port: 68 };
  return { address: BROADCAST, port: 68 };
}

/** A NAK relayed through giaddr must be broadcast by the relay (RFC 2131 §4.3.2). */
export function nakFlags(req: DhcpPacket): number {
  return req.giaddr !== ZERO ? req.flags | BROADCAST_FLAG : req.flags;
}

export function bootFileFor(ctx: HandlerContext, req: DhcpPacket, action: BootAction): BootFile {
  const d = ctx.settings.dhcp;
  return chooseBootFile(req.options, action, {
    publicUrl: ctx.publicUrl, efiBinary: d.efiBinary, arm64Binary: d.arm64Binary,
    bootFileForInstalled: d.bootFileForInstalled, inTftpRoot: ctx.inTftpRoot,
    // A multi-NIC node: the URL names the NIC whose firmware asked.
    ukiFor: ctx.ukiFor && ((node) => ctx.ukiFor!(node, req.mac)),
  });
}

/** Puts the boot file in the header fields and options the clients in CLIENTS.md read. */
export function addBootFile(ctx: HandlerContext, req: DhcpPacket, reply: OutgoingPacket, boot: BootFile): void {
  if (boot.kind !== 'file') return;
  reply.file = boot.file.length <= 127 ? boot.file : '';
  reply.siaddr = ctx.serverAddress;
  if (boot.httpClient) reply.options.push([Opt.VENDOR_CLASS, enc.str('HTTPClient')]);
  // A TFTP file: name the server in option 66 as well as siaddr, for ROMs that read only the option.
  else if (!boot.file.includes('://')) reply.options.push([Opt.TFTP_SERVER, enc.str(ctx.serverAddress)]);
  // Option 67 too: some firmware reads only the option, and a URL may not fit `file`.
  reply.options.push([Opt.BOOTFILE, enc.str(boot.file)]);
  if (isIpxe(req.options)) reply.options.push([Opt.IPXE, enc.subs([[IPXE_NO_PXEDHCP, enc.u8(1)]])]);
}

/**
 * Records that DHCP saw the machine and returns what it gets. Read-only, it
 * only looks the machine up: the sighting is history, no reply depends on it.
 */
export function sight(ctx: HandlerContext, req: DhcpPacket): BootAction {
  return ctx.readOnly ? ctx.lifecycle.bootActionForMac(req.mac) : ctx.lifecycle.sighted(sightingOf(req));
}

/** Appends a node event, except read-only: events are history, and no reply waits on them. */
export function recordEvent(ctx: HandlerContext, ev: Parameters<Store['appendEvent']>[0]): void {
  if (!ctx.readOnly) ctx.store.appendEvent(ev);
}

/** What the client told us, for the store (discovered machines and node events). */
export function sightingOf(req: DhcpPacket) {
  const o = req.options;
  const arch = o.clientArch?.[0];
  return {
    mac: req.mac,
    source: 'dhcp' as const,
    uuid: o.clientUuid && !/^[0-]+$/.test(o.clientUuid.uuid) ? o.clientUuid.uuid : undefined,
    arch: arch === undefined ? undefined : `${arch} (${ARCH_NAMES[arch] ?? 'unknown'})`,
    vendorClass: o.vendorClass,
    userClass: o.userClass?.join(','),
    relay: req.giaddr !== ZERO ? req.giaddr : undefined,
  };
}

export function isEthernet(req: DhcpPacket): boolean {
  return req.htype === 1 && req.hlen === 6;
}
