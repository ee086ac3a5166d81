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
