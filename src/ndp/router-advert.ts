// A router advertisement that says "there is no IPv6 here" (RFC 4861
// section 4.2: router lifetime 0, so no default router; M and O clear, so no
// DHCPv6; no prefix options, so no SLAAC). iPXE waits for IPv6
// autoconfiguration before fetching its script, about 15 s on a link where
// nothing answers its Router Solicitation; this answer ends that wait at
// once. Pure functions over bytes: no I/O, no policy.

export const ICMP6_ROUTER_SOLICIT = 133;
export const ICMP6_ROUTER_ADVERT = 134;
const OPT_SOURCE_LINK_LAYER = 1;

/** RFC 4861 4.2, with the checksum left zero: the kernel fills it for raw ICMPv6 sockets. */
export function encodeRouterAdvertisement(opts: { sourceMac?: string } = {}): Buffer {
  const mac = opts.sourceMac ? Buffer.from(opts.sourceMac.split(':').map((h) => parseInt(h, 16))) : undefined;
  const b = Buffer.alloc(16 + (mac?.length === 6 ? 8 : 0));
  b[0] = ICMP6_ROUTER_ADVERT;
  b[1] = 0; // code
  // [2..3] checksum, [4] cur hop limit 0 (unspecified), [5] flags M=0 O=0,
  // [6..7] router lifetime 0, [8..11] reachable time 0, [12..15] retrans timer 0.
  if (mac?.length === 6) {
    b[16] = OPT_SOURCE_LINK_LAYER;
    b[17] = 1; // length in units of 8 octets
    mac.copy(b, 18);
  }
  return b;
}

/** RFC 4861 4.1 and 6.1.1: type 133, code 0, at least 8 octets. (Hop limit 255 is checked by the kernel filter's caller.) */
export function isRouterSolicitation(b: Buffer): boolean {
  return b.length >= 8 && b[0] === ICMP6_ROUTER_SOLICIT && b[1] === 0;
}
