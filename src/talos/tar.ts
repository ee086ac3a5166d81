// A minimal reader for the ustar archives Talos streams (POSIX.1-1988 ustar
// as extended by POSIX.1-2001 pax). Talos's Kubeconfig stream is a gzip tar
// holding one file and *no* end-of-archive marker (the two zero blocks of
// POSIX "ustar Interchange Format"), so running out of data exactly at an
// entry boundary is a normal end here, not an error. Pure: bytes in, bytes out.
import { ArchiveError } from './errors.js';
import { BLOCK, checksumOk, headerName, headerNumber, paxPath, TarFormatError, typeFlag } from '../tar/ustar.js';

export interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

export function readTar(archive: Buffer): TarEntry[] {
  try {
    return entriesOf(archive);
  } catch (err) {
    if (err instanceof TarFormatError) throw new ArchiveError(err.message);
    throw err;
  }
}

function entriesOf(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let nextName: string | undefined;
  while (off < archive.length) {
    if (archive.length - off < BLOCK) throw new ArchiveError(`truncated header at byte ${off}`);
    const h = archive.subarray(off, off + BLOCK);
    if (h.every((x) => x === 0)) break; // end-of-archive marker, when present
    if (!checksumOk(h)) throw new ArchiveError(`bad header checksum at byte ${off}`);
    const size = headerNumber(h, 124, 12, 'size');
    const type = typeFlag(h);
    const name = nextName ?? headerName(h);
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
