// The header of a POSIX ustar archive entry ("ustar Interchange Format",
// POSIX.1-1988, with the pax extended headers of POSIX.1-2001), shared by
// the two tar readers: the in-memory one for the Kubeconfig stream Talos
// sends (src/talos/tar.ts) and the streaming one for OCI image archives
// (src/registry/tar.ts). Pure: a 512-byte header in, fields out.

export const BLOCK = 512;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

/** A NUL-terminated (or field-filling) text field. */
export function headerText(h: Buffer, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

/**
 * A numeric field: octal text, or GNU/star base-256 (sizes over 8 GiB) when
 * the first byte's high bit is set.
 */
export function headerNumber(h: Buffer, off: number, len: number, what: string): number {
  if (h[off]! & 0x80) {
    let n = h[off]! & 0x7f;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + h[i]!;
    return n;
  }
  const text = headerText(h, off, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad ${what} field ${JSON.stringify(text)} in a tar header`);
  return parseInt(text, 8);
}

/** The checksum counts its own field as eight spaces. */
export function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === headerNumber(h, 148, 8, 'checksum');
}

/** The entry's type flag; NUL is the old spelling of a regular file. */
export function typeFlag(h: Buffer): string {
  return h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
}

/** name, prefixed by the ustar `prefix` field when the magic says ustar. */
export function headerName(h: Buffer): string {
  const name = headerText(h, 0, 100);
  const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? headerText(h, 345, 155) : '';
  return prefix ? `${prefix}/${name}` : name;
}

/**
 * The `path` record of a pax extended header, if any. Records are
 * "LEN key=value\n", where LEN counts the record's own bytes (digits, space
 * and newline included): a length that could not hold that much, or runs
 * past the data, is malformed.
 */
export function paxPath(data: Buffer): string | undefined {
  let off = 0;
  let path: string | undefined;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    const digits = sp < 0 ? '' : data.subarray(off, sp).toString('latin1');
    if (!/^\d+$/.test(digits)) throw new TarFormatError('bad pax record (no length)');
    const len = Number(digits);
    if (len <= digits.length + 1 || off + len > data.length) throw new TarFormatError(`bad pax record length ${digits}`);
    const record = data.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    off += len;
  }
  return path;
}
