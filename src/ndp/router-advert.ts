// A router advertisement that says "there is no IPv6 here" (RFC 4861
// section 4.2: router lifetime 0, so no default router; M and O clear, so no
// DHCPv6; no prefix options, so no SLAAC). iPXE waits for IPv6
// autoconfiguration before fetching its script, about 15 s on a link where
// nothing answers its Router Solicitation; this answer ends that wait at
// once. Pure functions over bytes: no I/O, no policy.
//
// Where rackboot serves DHCPv6 (dhcpv6.enabled) the advertisement says the
// opposite: M set (RFC 4861 4.2: addresses come from DHCPv6), and the
// prefix as on-link but not for autonomous configuration (4.6.2: L set, A
// clear), so hosts reach our address in it directly. The router lifetime
// stays 0: rackboot routes nothing.

export const ICMP6_ROUTER_SOLICIT = 133;
export const ICMP6_ROUTER_ADVERT = 134;
const OPT_SOURCE_LINK_LAYER = 1;
const OPT_PREFIX_INFORMATION = 3;
const FLAG_MANAGED = 0x80;
const FLAG_OTHER = 0x40;
const PREFIX_ON_LINK = 0x80;

export interface ManagedLink {
  /** The on-link prefix's 16 bytes (the rest beyond `length` zero) and its length. */
  prefix: Buffer;
  length: number;
  /** Seconds the prefix stays on-link (valid) and preferred. */
  lifetimeSeconds: number;
}

/** RFC 4861 4.2, with the checksum left zero: the kernel fills it for raw ICMPv6 sockets. */
export function encodeRouterAdvertisement(opts: { sourceMac?: string; managed?: ManagedLink } = {}): Buffer {
  const mac = opts.sourceMac ? Buffer.from(opts.sourceMac.split(':').map((h) => parseInt(h, 16))) : undefined;
  const b = Buffer.alloc(16 + (mac?.length === 6 ? 8 : 0));
  b[0] = ICMP6_ROUTER_ADVERT;
  b[1] = 0; // code
  // [2..3] checksum, [4] cur hop limit 0 (unspecified), [5] flags M and O,
  // [6..7] router lifetime 0, [8..11] reachable time 0, [12..15] retrans timer 0.
  if (opts.managed) b[5] = FLAG_MANAGED | FLAG_OTHER;
  if (mac?.length === 6) {
    b[16] = OPT_SOURCE_LINK_LAYER;
    b[17] = 1; // length in units of 8 octets
    mac.copy(b, 18);
  }
  return opts.managed ? Buffer.concat([b, prefixInformation(opts.managed)]) : b;
}

/** RFC 4861 4.6.2: type 3, length 4 (32 octets), prefix length, L/A flags, valid and preferred lifetimes, reserved, prefix. */
function prefixInformation(m: ManagedLink): Buffer {
  const o = Buffer.alloc(32);
  o[0] = OPT_PREFIX_INFORMATION;
  o[1] = 4;
  o[2] = m.length;
  o[3] = PREFIX_ON_LINK; // A clear: addresses come from DHCPv6, not SLAAC
  o.writeUInt32BE(m.lifetimeSeconds >>> 0, 4);
  o.writeUInt32BE(m.lifetimeSeconds >>> 0, 8);
  m.prefix.copy(o, 16, 0, 16);
  return o;
}

/** RFC 4861 4.1 and 6.1.1: type 133, code 0, at least 8 octets. (Hop limit 255 is checked by the kernel filter's caller.) */
export function isRouterSolicitation(b: Buffer): boolean {
  return b.length >= 8 && b[0] === ICMP6_ROUTER_SOLICIT && b[1] === 0;
}
