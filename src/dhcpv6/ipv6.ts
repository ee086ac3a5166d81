// IPv6 addresses as text and bytes, and the arithmetic the address pool
// needs. Text is written as RFC 5952 §4 says (lower case, the longest run of
// two or more zero groups as "::", leftmost on a tie).

/** 16 bytes from text, or undefined when it is not an IPv6 address (no zone, no embedded IPv4). */
export function ipv6Bytes(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.length < 2) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : head.length !== 8) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) {
    if (g.length < 1 || g.length > 4) return undefined;
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  }
  return out;
}

export function isIpv6(text: string): boolean {
  return ipv6Bytes(text) !== undefined;
}

/** RFC 5952 text of 16 bytes at `at`. */
export function ipv6Text(b: Buffer, at = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(at + i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best === -1 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The canonical form of an address given as text (for comparing and storing). */
export function canonicalIpv6(text: string): string | undefined {
  const b = ipv6Bytes(text);
  return b && ipv6Text(b);
}

/** `2001:db8::/64` → its first address's bytes and the length; undefined when malformed. */
export function parsePrefix(cidr: string): { base: Buffer; length: number } | undefined {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(cidr);
  const base = m && ipv6Bytes(m[1]!);
  const length = m ? Number(m[2]) : NaN;
  if (!base || !(length >= 0 && length <= 128)) return undefined;
  return { base, length };
}

/** True when `addr` lies inside `prefix`. */
export function inPrefix(addr: Buffer, prefix: { base: Buffer; length: number }): boolean {
  for (let bit = 0; bit < prefix.length; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((addr[byte]! & mask) !== (prefix.base[byte]! & mask)) return false;
  }
  return true;
}

/** `base` plus `n` (n below 2^48), as text: the n-th address of a range. */
export function ipv6Add(base: Buffer, n: number): string {
  const out = Buffer.from(base);
  let carry = n;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const sum = out[i]! + (carry % 256);
    out[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  return ipv6Text(out);
}

/** `b - a` for two addresses that differ only in their last 48 bits, else undefined. */
export function ipv6Distance(a: Buffer, b: Buffer): number | undefined {
  if (!a.subarray(0, 10).equals(b.subarray(0, 10))) return undefined;
  return b.readUIntBE(10, 6) - a.readUIntBE(10, 6);
}
