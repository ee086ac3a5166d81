// What rackboot answers to a DHCPv6 client on a segment it owns (RFC 8415
// §18.3 server behaviour, RFC 5970 boot file URLs). One datagram in, at
// most one datagram out; the service around it does the sockets. Who gets a
// boot file is the Lifecycle's call, and which file is chooseBootFile's, as
// for DHCPv4; this module maps that file to a URL a v6 client can fetch.
import type { Logger } from '../log.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { BootAction } from '../lifecycle/boot.js';
import type { Dhcpv6Settings } from '../settings/settings.js';
import { chooseBootFile, ARCH_NAMES, type BootFile } from '../dhcp/boot-file.js';
import { encodeDhcpv6, Msg6, MSG6_NAMES, unwrapRelays, wrapReply, type ClientServerMessage, type RelayMessage } from './codec.js';
import { addressListValue, iaAddrValue, iaNaValue, Opt6, Status6, statusValue, vendorClassValue, type IaNa, type OptionList } from './options.js';
import { inPrefix, ipv6Bytes, parsePrefix } from './ipv6.js';
import type { Leases6 } from './leases.js';
import { Advertised } from './advertised.js';
import { macFromLinkLocal } from './eui64.js';

/** RFC 8415 §21.16 vendor class: IANA's enterprise number for Intel, which UEFI's PXE and HTTP clients use. */
const ENTERPRISE_PXE = 343;
const DECLINE_QUARANTINE_SECONDS = 600;

export interface V6Context {
  settings: Dhcpv6Settings;
  dhcp: { efiBinary: string; arm64Binary: string; bootFileForInstalled: boolean };
  lifecycle: Lifecycle;
  leases: Leases6;
  advertised: Advertised;
  /** Our DUID (DUID-LL of the provisioning interface): option 2. */
  serverDuid: Buffer;
  /** Where v6 clients fetch from: `http://[addr]:port` and our address for tftp://[addr]/. */
  httpUrl: string;
  inTftpRoot: (file: string) => boolean;
  log: Logger;
  readOnly?: boolean;
}

export type Outcome6 =
  | { kind: 'reply'; bytes: Buffer; type: string; detail: string }
  | { kind: 'drop'; reason: string; detail: string };

const drop = (reason: string, detail: string): Outcome6 => ({ kind: 'drop', reason, detail });

/** Who the client is: its MAC when anything says it (DUID-LL/LLT, option 79 from the first relay, an EUI-64 link-local source), else its DUID. */
export function clientIdentity(m: ClientServerMessage, relays: RelayMessage[], source: string): { key: string; mac?: string; duid: string } {
  const duid = m.options.clientId!.raw.toString('hex');
  const fromRelay = relays.length ? relays[relays.length - 1]!.options.clientLinkLayer : undefined;
  const mac = m.options.clientId!.mac
    ?? (fromRelay?.hwtype === 1 && fromRelay.address.length === 17 ? fromRelay.address : undefined)
    ?? (relays.length ? macFromLinkLocal(relays[relays.length - 1]!.peerAddress) : macFromLinkLocal(source));
  return { key: mac ?? `duid:${duid}`, mac, duid };
}

/** The boot file as a URL a v6 client fetches (RFC 5970 §3.1): tftp://[addr]/file or the HTTP URL as is. */
export function bootFileUrl(ctx: V6Context, m: ClientServerMessage, action: BootAction): BootFile {
  const o = m.options;
  const vendor = o.vendorClass.find((v) => v.enterprise === ENTERPRISE_PXE)?.data[0] ?? o.vendorClass[0]?.data[0];
  const arch = o.clientArch?.[0];
  // There is no BIOS PXE over IPv6: only UEFI (RFC 5970 §3.3 lists architectures from RFC 4578).
  if (arch === 0) return { kind: 'none', why: 'x86 BIOS has no IPv6 netboot' };
  const file = chooseBootFile({ vendorClass: vendor, clientArch: o.clientArch, userClass: o.userClass }, action, {
    publicUrl: ctx.httpUrl, efiBinary: ctx.dhcp.efiBinary, arm64Binary: ctx.dhcp.arm64Binary,
    bootFileForInstalled: ctx.dhcp.bootFileForInstalled, inTftpRoot: ctx.inTftpRoot,
  });
  if (file.kind !== 'file' || file.file.includes('://')) return file;
  return { ...file, file: `tftp://[${ctx.settings.address}]/${file.file}` };
}

/** Handles one datagram from `source`. Never throws. */
export function handleDhcpv6(ctx: V6Context, bytes: Buffer, source: string): Outcome6 {
  try {
    return handle(ctx, bytes, source);
  } catch (err) {
    ctx.log.error({ err }, 'dhcpv6: handler failed');
    return drop('internal-error', (err as Error).message);
  }
}

function handle(ctx: V6Context, bytes: Buffer, source: string): Outcome6 {
  const un = unwrapRelays(bytes);
  if (!un.ok) return drop(`parse-${un.error.kind}`, un.error.detail);
  const { relays, inner: m } = un;
  const name = MSG6_NAMES[m.type] ?? String(m.type);
  const o = m.options;
  // §16: messages servers discard. Every client message needs a Client ID (but Information-Request).
  if (![Msg6.SOLICIT, Msg6.REQUEST, Msg6.CONFIRM, Msg6.RENEW, Msg6.REBIND, Msg6.RELEASE, Msg6.DECLINE, Msg6.INFORMATION_REQUEST].includes(m.type as 1)) {
    return drop('not-client-message', name);
  }
  if (!o.clientId && m.type !== Msg6.INFORMATION_REQUEST) return drop('no-client-id', `${name} without a Client ID (RFC 8415 §16)`);
  const serverIdMust = m.type === Msg6.REQUEST || m.type === Msg6.RENEW || m.type === Msg6.RELEASE || m.type === Msg6.DECLINE;
  const serverIdMustNot = m.type === Msg6.SOLICIT || m.type === Msg6.CONFIRM || m.type === Msg6.REBIND;
  if (serverIdMustNot && o.serverId) return drop('server-id-present', `${name} with a Server ID (RFC 8415 §16.2, §16.5, §16.7)`);
  if (serverIdMust && !o.serverId) return drop('no-server-id', `${name} without a Server ID (RFC 8415 §16)`);
  if (o.serverId && !o.serverId.raw.equals(ctx.serverDuid)) return drop('other-server', `${name} for another server`);

  const who = o.clientId ? clientIdentity(m, relays, source) : undefined;
  const action = who?.mac
    ? (ctx.readOnly ? ctx.lifecycle.bootActionForMac(who.mac) : ctx.lifecycle.sighted(sighting(who.mac, m, relays)))
    : { kind: 'unknown' as const };
  const prefix = parsePrefix(ctx.settings.prefix!)!;
  const reply = (type: number, options: OptionList, detail: string): Outcome6 => {
    const head: OptionList = [[Opt6.SERVERID, ctx.serverDuid]];
    if (o.clientId) head.push([Opt6.CLIENTID, o.clientId.raw]);
    const msg = encodeDhcpv6({ type, transactionId: m.transactionId, options: [...head, ...options] });
    return { kind: 'reply', bytes: relays.length ? wrapReply(relays, msg) : msg, type: MSG6_NAMES[type]!, detail: `${name} from ${who?.key ?? source}: ${detail}` };
  };
  const lease = ctx.settings.leaseSeconds;
  const lifetimes = { preferred: lease, valid: lease };
  const t = { t1: Math.floor(lease / 2), t2: Math.floor((lease * 4) / 5) };
  const firstIa = o.iaNa[0];

  switch (m.type) {
    case Msg6.SOLICIT: {
      if (!firstIa) return reply(Msg6.ADVERTISE, [...extras(ctx, m, action), [Opt6.PREFERENCE, Buffer.from([255])]], 'no IA_NA, boot options only');
      // A Solicit again before the Request (a retransmission, or the
      // firmware's IPv6 stack asking beside its boot client) gets the
      // address already advertised: the client may answer either Advertise.
      const held = ctx.advertised.heldFor(who!.key);
      const ip = held && !ctx.leases.heldByOther(held, who!.key) ? held : ctx.leases.allocate(who!.key, ctx.settings.pool!, (a) => ctx.advertised.heldForOther(a, who!.key));
      const ias = iaAnswers(o.iaNa, ip ? { address: ip, ...lifetimes } : undefined, t, Status6.NoAddrsAvail);
      const rapid = o.rapidCommit && ctx.settings.rapidCommit && ip !== undefined;
      if (rapid) {
        if (ctx.readOnly) return drop('store-failed', 'Rapid Commit needs a stored lease');
        ctx.leases.bind(who!.key, firstIa.iaid, ip, lease, who!.duid);
        return reply(Msg6.REPLY, [[Opt6.RAPID_COMMIT, Buffer.alloc(0)], ...ias, ...extras(ctx, m, action)], `rapid commit ${ip}`);
      }
      if (ip) ctx.advertised.hold(who!.key, ip);
      // §18.3.9 Preference 255: the client stops collecting Advertises and asks at once (§18.2.1).
      return reply(Msg6.ADVERTISE, [...ias, [Opt6.PREFERENCE, Buffer.from([255])], ...extras(ctx, m, action)], ip ? `advertise ${ip}` : 'no address free');
    }
    case Msg6.REQUEST: {
      if (!firstIa) return reply(Msg6.REPLY, extras(ctx, m, action), 'no IA_NA');
      const asked = firstIa.addresses[0]?.address;
      const mine = ctx.advertised.heldFor(who!.key) ?? ctx.leases.get(who!.key)?.ip;
      const ip = asked && asked === mine && !ctx.leases.heldByOther(asked, who!.key)
        ? asked
        : ctx.leases.allocate(who!.key, ctx.settings.pool!, (a) => ctx.advertised.heldForOther(a, who!.key));
      if (!ip) return reply(Msg6.REPLY, iaAnswers(o.iaNa, undefined, t, Status6.NoAddrsAvail), 'no address free');
      if (ctx.readOnly) return drop('store-failed', 'Request needs a stored lease');
      ctx.leases.bind(who!.key, firstIa.iaid, ip, lease, who!.duid);
      ctx.advertised.forget(who!.key);
      return reply(Msg6.REPLY, [...iaAnswers(o.iaNa, { address: ip, ...lifetimes }, t, Status6.NoAddrsAvail), ...extras(ctx, m, action)], `bound ${ip}`);
    }
    case Msg6.RENEW: case Msg6.REBIND: {
      // §18.3.4/§18.3.5: extend what we have; say NoBinding (Renew) or zero lifetimes for off-link addresses (Rebind).
      const held = ctx.leases.get(who!.key);
      const out: OptionList = [];
      for (const ia of o.iaNa) {
        const addr = ia.addresses[0]?.address;
        if (held && addr === held.ip && ia === firstIa) {
          if (ctx.readOnly) return drop('store-failed', `${name} needs a stored lease`);
          ctx.leases.bind(who!.key, ia.iaid, held.ip, lease, who!.duid);
          out.push([Opt6.IA_NA, iaNaValue({ iaid: ia.iaid, ...t }, [[Opt6.IAADDR, iaAddrValue({ address: held.ip, ...lifetimes })]])]);
        } else if (m.type === Msg6.REBIND && addr && !inPrefix(ipv6Bytes(addr)!, prefix)) {
          out.push([Opt6.IA_NA, iaNaValue({ iaid: ia.iaid, ...t }, [[Opt6.IAADDR, iaAddrValue({ address: addr, preferred: 0, valid: 0 })]])]);
        } else {
          out.push([Opt6.IA_NA, iaNaValue({ iaid: ia.iaid, t1: 0, t2: 0 }, [[Opt6.STATUS_CODE, statusValue(Status6.NoBinding, 'no binding for this IA')]])]);
        }
      }
      return reply(Msg6.REPLY, [...out, ...extras(ctx, m, action)], held ? `extended ${held.ip}` : 'no binding');
    }
    case Msg6.CONFIRM: {
      // §18.3.3: only whether the addresses are on this link; no addresses, no reply.
      const addrs = o.iaNa.flatMap((ia) => ia.addresses.map((a) => a.address));
      if (!addrs.length) return drop('confirm-without-addresses', 'Confirm without addresses (RFC 8415 §18.3.3)');
      const onLink = addrs.every((a) => inPrefix(ipv6Bytes(a)!, prefix));
      return reply(Msg6.REPLY, [[Opt6.STATUS_CODE, statusValue(onLink ? Status6.Success : Status6.NotOnLink, onLink ? 'all addresses on link' : 'not on link')]], onLink ? 'on link' : 'not on link');
    }
    case Msg6.RELEASE: case Msg6.DECLINE: {
      // §18.3.7/§18.3.8: drop or quarantine each address; Success overall, NoBinding per unknown IA.
      const held = ctx.leases.get(who!.key);
      const out: OptionList = [];
      for (const ia of o.iaNa) {
        const ours = ia.addresses.filter((a) => held && a.address === held.ip);
        if (!ours.length) {
          out.push([Opt6.IA_NA, iaNaValue({ iaid: ia.iaid, t1: 0, t2: 0 }, [[Opt6.STATUS_CODE, statusValue(Status6.NoBinding, 'no binding for this IA')]])]);
          continue;
        }
        if (ctx.readOnly) return drop('store-failed', `${name} needs a stored write`);
        if (m.type === Msg6.RELEASE) ctx.leases.release(who!.key, held!.ip);
        else ctx.leases.decline(who!.key, held!.ip, DECLINE_QUARANTINE_SECONDS, who!.duid);
      }
      return reply(Msg6.REPLY, [[Opt6.STATUS_CODE, statusValue(Status6.Success, m.type === Msg6.RELEASE ? 'released' : 'declined')], ...out], m.type === Msg6.RELEASE ? 'released' : 'declined');
    }
    case Msg6.INFORMATION_REQUEST:
      // §18.3.6: configuration only, boot file URL included (RFC 5970 §3.1).
      return reply(Msg6.REPLY, extras(ctx, m, action), 'information');
  }
  return drop('unsupported-type', name);
}

/** One IA_NA answer per IA the client sent: the address for the first, `failure` for the rest (one address per client). */
function iaAnswers(ias: IaNa[], addr: { address: string; preferred: number; valid: number } | undefined, t: { t1: number; t2: number }, failure: number): OptionList {
  return ias.map((ia, i) => [Opt6.IA_NA, addr && i === 0
    ? iaNaValue({ iaid: ia.iaid, ...t }, [[Opt6.IAADDR, iaAddrValue(addr)]])
    : iaNaValue({ iaid: ia.iaid, t1: 0, t2: 0 }, [[Opt6.STATUS_CODE, statusValue(failure, 'no addresses available')]])]);
}

/** DNS servers when asked (RFC 3646), and the boot file URL with the vendor class HTTP-boot clients look for. */
function extras(ctx: V6Context, m: ClientServerMessage, action: BootAction): OptionList {
  const out: OptionList = [];
  if (ctx.settings.dns.length && m.options.oro?.includes(Opt6.DNS_SERVERS)) out.push([Opt6.DNS_SERVERS, addressListValue(ctx.settings.dns)]);
  const boot = bootFileUrl(ctx, m, action);
  if (boot.kind !== 'file') return out;
  // UEFI HTTP boot (EDK2 HttpBootDhcp6.c) takes an offer as an HTTP-boot offer when it carries the vendor class "HTTPClient".
  if (boot.httpClient) out.push([Opt6.VENDOR_CLASS, vendorClassValue(ENTERPRISE_PXE, ['HTTPClient'])]);
  out.push([Opt6.BOOTFILE_URL, Buffer.from(boot.file, 'utf8')]);
  return out;
}

function sighting(mac: string, m: ClientServerMessage, relays: RelayMessage[]) {
  const arch = m.options.clientArch?.[0];
  return {
    mac, source: 'dhcp' as const,
    arch: arch === undefined ? undefined : `${arch} (${ARCH_NAMES[arch] ?? 'unknown'})`,
    vendorClass: m.options.vendorClass[0]?.data[0],
    userClass: m.options.userClass?.join(','),
    relay: relays.length ? relays[relays.length - 1]!.linkAddress : undefined,
  };
}
