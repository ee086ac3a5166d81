// Seeded randomness for fuzz tests, so a failing case can be replayed from its seed.
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

/** Mutates `input`: flips, deletions, insertions of `alphabet` characters, and spliced copies of itself. */
export function mutateText(input: string, rand: () => number, alphabet: string): string {
  let s = input;
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (s.length + 1));
    const pick = alphabet[Math.floor(rand() * alphabet.length)]!;
    switch (Math.floor(rand() * 5)) {
      case 0: s = s.slice(0, at) + pick + s.slice(at + 1); break;
      case 1: s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8)); break;
      case 2: s = s.slice(0, at) + pick.repeat(1 + Math.floor(rand() * 3)) + s.slice(at); break;
      case 3: {
        const from = Math.floor(rand() * s.length);
        s = s.slice(0, at) + s.slice(from, from + Math.floor(rand() * 40)) + s.slice(at);
        break;
      }
      default: s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x2fff)) + s.slice(at);
    }
  }
  return s;
}

/** Where a DHCP-style datagram keeps what mutateDatagram aims at. */
export interface DatagramLayout {
  /** Offset of the first option (DHCPv4: 240, after the cookie; DHCPv6: 4). */
  optionsAt: number;
  /** How many option bytes one mutation may overwrite at most. */
  optionEdits: number;
  /** A header byte is picked from the first `headerBytes`, and set below `headerValues`. */
  headerBytes: number;
  headerValues: number;
  /** Trailing junk is up to this long. */
  junkMax: number;
}

/**
 * One structural mutation of a real client's datagram: bit flips, option
 * bytes, a truncation, an option length, trailing junk or a header byte,
 * which between them reach every branch of a type-length-value decoder.
 */
export function mutateDatagram(base: Buffer, r: () => number, l: DatagramLayout): Buffer {
  const b = Buffer.from(base);
  const int = (n: number) => Math.floor(r() * n);
  const inOptions = () => l.optionsAt + int(Math.max(1, b.length - l.optionsAt));
  switch (int(6)) {
    case 0: for (let k = 1 + int(8); k > 0; k--) { const i = int(b.length); b[i] = b[i]! ^ (1 << int(8)); } return b;
    case 1: for (let k = 1 + int(l.optionEdits); k > 0; k--) b[inOptions()] = int(256); return b;
    case 2: return b.subarray(0, int(b.length));
    case 3: { const at = inOptions(); if (at + 1 < b.length) b[at + 1] = int(256); return b; }
    case 4: { const junk = Buffer.alloc(int(l.junkMax)); for (let k = 0; k < junk.length; k++) junk[k] = int(256); return Buffer.concat([b, junk]); }
    default: b[int(l.headerBytes)] = int(l.headerValues); return b;
  }
}
