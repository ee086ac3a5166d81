// The WAL's length and how much of it the last checkpoint copied, read from
// the wal-index header in the -shm file (sqlite.org/walformat.html, "The
// WAL-Index Header": mxFrame at byte 16, nBackfill at byte 96, both in the
// machine's native byte order). Read, never written: SQLite owns the file.
import { readSync } from 'node:fs';
import { endianness } from 'node:os';

export interface WalIndex { frames: number; copied: number }

const u32 = endianness() === 'LE' ? (b: Buffer, at: number) => b.readUInt32LE(at) : (b: Buffer, at: number) => b.readUInt32BE(at);

/** From an open -shm file descriptor; zeros for a header not yet written. A torn read is possible (no lock taken). */
export function readWalIndex(fd: number, header: Buffer = Buffer.alloc(100)): WalIndex {
  if (readSync(fd, header, 0, 100, 0) < 100) return { frames: 0, copied: 0 };
  return { frames: u32(header, 16), copied: u32(header, 96) };
}
