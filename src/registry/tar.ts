// Just enough tar (POSIX ustar, plus pax `path` records and GNU long names
// on input) to read and write an OCI image layout archive: regular files and
// directories. Entries are streamed, never held whole in memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BLOCK, checksumOk, headerName, headerNumber, headerText, paxPath, TarFormatError as TarError, typeFlag } from '../tar/ustar.js';

export { TarFormatError as TarError } from '../tar/ustar.js';

export interface TarEntry {
  /** Path inside the archive, without a leading "./". */
  name: string;
  type: 'file' | 'directory' | 'other';
  size: number;
}

/** Reads exact byte counts from an async stream of chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;
  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length >= n;
  }

  async exactly(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Yields the next `n` bytes in pieces; throws if the stream ends first. */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw new TarError(`archive ends in the middle of an entry (${left} bytes missing)`);
      const take = Math.min(left, this.buf.length);
      const piece = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield piece;
    }
  }
}

/**
 * Calls `onEntry` for every file and directory in the archive, in order. A
 * file's bytes are given as an async iterable that the callback must consume
 * fully before it returns. Throws TarError on a truncated or corrupt archive.
 */
export async function readTar(source: AsyncIterable<Buffer>, onEntry: (e: TarEntry, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const r = new ByteReader(source);
  let longName: string | undefined;
  for (;;) {
    const h = await r.exactly(BLOCK);
    if (!h) throw new TarError('archive ends without its end-of-archive marker (truncated?)');
    if (h.every((b) => b === 0)) return;
    if (!checksumOk(h)) throw new TarError('a tar header has a wrong checksum (not a tar file, or corrupted)');
    const size = headerNumber(h, 124, 12, 'size');
    const flag = typeFlag(h);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'L') {
      const chunks: Buffer[] = [];
      for await (const p of r.pieces(padded)) chunks.push(p);
      const data = Buffer.concat(chunks).subarray(0, size);
      longName = flag === 'x' ? paxPath(data) ?? longName : headerText(data, 0, data.length);
      continue;
    }
    let name = longName ?? headerName(h);
    longName = undefined;
    name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const type = flag === '0' ? 'file' : flag === '5' ? 'directory' : 'other';
    const body = r.pieces(size);
    let consumed = false;
    await onEntry({ name, type, size: type === 'directory' ? 0 : size }, {
      [Symbol.asyncIterator]: () => {
        consumed = true;
        return body;
      },
    });
    if (!consumed) for await (const _ of body);
    for await (const _ of r.pieces(padded - size));
  }
}

function header(name: string, size: number, type: 'file' | 'directory', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 100) throw new TarError(`tar name too long: ${name}`);
  bytes.copy(h, 0);
  h.write(type === 'directory' ? '0000755\0' : '0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write(mtime.toString(8).padStart(11, '0') + '\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type === 'directory' ? '5' : '0', 156, 'ascii');
  h.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

async function write(out: Writable, buf: Buffer): Promise<void> {
  if (!out.write(buf)) await once(out, 'drain');
}

/** Writes ustar entries to a stream; `end()` adds the end-of-archive marker. */
export class TarWriter {
  constructor(private readonly out: Writable, private readonly mtime = 0) {}

  async directory(name: string): Promise<void> {
    await write(this.out, header(name.endsWith('/') ? name : `${name}/`, 0, 'directory', this.mtime));
  }

  async file(name: string, size: number, body: AsyncIterable<Buffer> | Buffer): Promise<void> {
    await write(this.out, header(name, size, 'file', this.mtime));
    let n = 0;
    const pieces: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : body;
    for await (const piece of pieces) {
      n += piece.length;
      if (n > size) throw new TarError(`${name} grew while it was being archived`);
      await write(this.out, piece);
    }
    if (n !== size) throw new TarError(`${name} is ${n} bytes, expected ${size}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await write(this.out, Buffer.alloc(pad));
  }

  async end(): Promise<void> {
    await write(this.out, Buffer.alloc(BLOCK * 2));
  }
}
