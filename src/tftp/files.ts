// What a TFTP filename may name: a regular file under the TFTP root, or an
// entry of a small explicit table of generated (virtual) files. Everything
// else is refused before the filesystem is asked anything.
//
// Files are read once and kept in memory while their mtime, size and inode
// are unchanged: the iPXE binaries are small and are fetched by every boot.

import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync, constants } from 'node:fs';
import { join, sep } from 'node:path';

export type Resolved =
  | { ok: true; name: string; data: Uint8Array; virtual: boolean }
  | { ok: false; code: 'not-found' | 'access-violation' | 'too-large'; reason: string };

export type VirtualFiles = Record<string, () => string | Uint8Array>;

interface Cached { mtimeMs: number; size: number; ino: number; data: Uint8Array }

export interface TftpFilesOptions {
  /** Larger files are refused: TFTP is for boot loaders, and each is held in memory. */
  maxFileBytes?: number;
}

/**
 * Checks a requested name and returns its path segments, or why it is refused.
 * The name arrives as raw bytes (latin1). Refused: NUL and other control
 * bytes (which also covers netascii's CR NUL and CR LF encodings), bytes
 * above 0x7e, backslashes (a Windows separator to firmware and to people),
 * absolute paths, and `.`, `..` or empty segments.
 */
export function checkName(name: string): { ok: true; segments: string[] } | { ok: false; reason: string } {
  if (name.length === 0) return { ok: false, reason: 'empty name' };
  if (name.length > 255) return { ok: false, reason: 'name longer than 255 bytes' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\xff]/.test(name)) return { ok: false, reason: 'control or non-ASCII byte in name' };
  if (name.includes('\\')) return { ok: false, reason: 'backslash in name' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  const segments = name.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') return { ok: false, reason: `path segment ${JSON.stringify(s)}` };
  }
  return { ok: true, segments };
}

export class TftpFiles {
  private readonly cache = new Map<string, Cached>();
  private readonly maxFileBytes: number;
  private realRoot: string | undefined;

  constructor(readonly root: string, private readonly virtual: VirtualFiles = {}, opts: TftpFilesOptions = {}) {
    this.maxFileBytes = opts.maxFileBytes ?? 256 * 1024 * 1024;
  }

  resolve(name: string): Resolved {
    const checked = checkName(name);
    if (!checked.ok) return { ok: false, code: 'access-violation', reason: checked.reason };
    const clean = checked.segments.join('/');
    const generate = Object.hasOwn(this.virtual, clean) ? this.virtual[clean] : undefined;
    if (generate) {
      const out = generate();
      return { ok: true, name: clean, data: typeof out === 'string' ? Buffer.from(out, 'utf8') : out, virtual: true };
    }
    return this.readFile(clean);
  }

  private rootPath(): string | undefined {
    if (this.realRoot) return this.realRoot;
    try {
      this.realRoot = realpathSync(this.root);
      return this.realRoot;
    } catch {
      return undefined;
    }
  }

  private readFile(clean: string): Resolved {
    const root = this.rootPath();
    if (!root) return { ok: false, code: 'not-found', reason: `TFTP root ${this.root} does not exist` };
    let real: string;
    try {
      real = realpathSync(join(root, clean));
    } catch {
      return { ok: false, code: 'not-found', reason: 'no such file' };
    }
    // A symlink may point anywhere inside the root, never out of it.
    if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) return { ok: false, code: 'access-violation', reason: 'resolves outside the TFTP root' };
    let st;
    try {
      st = statSync(real);
    } catch {
      return { ok: false, code: 'not-found', reason: 'no such file' };
    }
    if (!st.isFile()) return { ok: false, code: 'not-found', reason: 'not a regular file' };
    if (st.size > this.maxFileBytes) return { ok: false, code: 'too-large', reason: `${st.size} bytes is over the ${this.maxFileBytes}-byte limit` };
    const hit = this.cache.get(real);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino) return { ok: true, name: clean, data: hit.data, virtual: false };
    const read = this.readRegular(real);
    if (!read) return { ok: false, code: 'not-found', reason: 'could not be read' };
    this.cache.set(real, read);
    return { ok: true, name: clean, data: read.data, virtual: false };
  }

  /** Reads through one descriptor, so the stat we cache describes the bytes we read. */
  private readRegular(path: string): Cached | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > this.maxFileBytes) return undefined;
      const data = Buffer.allocUnsafe(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, data, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, data: data.subarray(0, off) };
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Files currently held in memory (for metrics). */
  get cachedFiles(): number {
    return this.cache.size;
  }
}
