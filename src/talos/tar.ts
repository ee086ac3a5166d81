// A minimal reader for the ustar archives Talos streams (POSIX.1-1988 ustar
// as extended by POSIX.1-2001 pax). Talos's Kubeconfig stream is a gzip tar
// holding one file and *no* end-of-archive marker (the two zero blocks of
// POSIX "ustar Interchange Format"), so running out of data exactly at an
// entry boundary is a normal end here, not an error. Pure: bytes in, bytes out.
import { ArchiveError } from './errors.js';

const BLOCK = 512;

export interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

function cString(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul === -1 ? s.length : nul).toString('utf8');
}

/** Numeric header fields are octal text, or base-256 when the first byte's high bit is set (GNU/star). */
function number(b: Buffer, start: number, len: number): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    let n = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i]!;
    return n;
  }
  const text = cString(b, start, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError(`bad octal field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** The header checksum counts the checksum field itself as eight spaces. */
function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === number(h, 148, 8);
}

function paxPath(data: Buffer): string | undefined {
  let rest = data.toString('utf8');
  while (rest.length > 0) {
    const m = /^(\d+) /.exec(rest);
    if (!m) return undefined;
    const len = Number(m[1]);
    // A record's length counts its own digits, space and newline: anything
    // shorter (0 would never advance) or past the data is malformed.
    if (len <= m[0].length || len > rest.length) throw new ArchiveError(`bad pax record length ${m[1]}`);
    const record = rest.slice(m[0].length, len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') return record.slice(eq + 1);
    rest = rest.slice(len);
  }
  return undefined;
}

export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let nextName: string | undefined;
  while (off < archive.length) {
    if (archive.length - off < BLOCK) throw new ArchiveError(`truncated header at byte ${off}`);
    const h = archive.subarray(off, off + BLOCK);
    if (h.every((x) => x === 0)) break; // end-of-archive marker, when present
    if (!checksumOk(h)) throw new ArchiveError(`bad header checksum at byte ${off}`);
    const size = number(h, 124, 12);
    const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? cString(h, 345, 155) : '';
    const name = nextName ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
    nextName = undefined;
    const start = off + BLOCK;
    if (start + size > archive.length) throw new ArchiveError(`entry ${name} needs ${size} bytes, archive ends first`);
    const data = archive.subarray(start, start + size);
    if (type === 'x') nextName = paxPath(data);
    else if (type !== 'g') entries.push({ name, type, data: Buffer.from(data) });
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}

/** The regular file `name` (a leading ./ is ignored), or an ArchiveError. */
export function tarFile(archive: Buffer, name: string): Buffer {
  const entry = readTar(archive).find((e) => e.type === '0' && e.name.replace(/^\.\//, '') === name);
  if (!entry) throw new ArchiveError(`no file ${name} in the archive`);
  return entry.data;
}
