// Streams a byte range of a file into an HTTP response through a few
// buffers that are reused for the whole transfer and then kept for the next
// one. A ReadStream allocates a new buffer for every read; at hundreds of
// MB/s those dead buffers (and the malloc arenas they fragment) are what put
// the appliance over its memory target when a rack booted at once. Here a
// buffer goes back to the transfer's free list as soon as the socket has
// taken its bytes, so memory per transfer is fixed, and nothing is allocated
// per request once the pool is warm.
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/** Buffers per transfer: one being read while the other is in the socket. A third bought one client more but cost fifty more memory than it was worth. */
export const BUFFERS_PER_TRANSFER = 2;

/** Idle buffers by size, kept for the next transfer up to `limit` bytes. */
export class BufferPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  constructor(private readonly limit: number) {}

  take(size: number): Buffer {
    const buf = this.idle.get(size)?.pop();
    if (!buf) return Buffer.allocUnsafeSlow(size);
    this.idleBytes -= size;
    return buf;
  }

  give(buf: Buffer): void {
    if (this.idleBytes + buf.length > this.limit) return;
    const list = this.idle.get(buf.length) ?? [];
    list.push(buf);
    this.idle.set(buf.length, list);
    this.idleBytes += buf.length;
  }

  get idleSize(): number {
    return this.idleBytes;
  }
}

/**
 * Writes bytes `start`..`end` (inclusive) of `path` to `res`, whose headers
 * are already set, then ends it. Resolves when the transfer is over or the
 * client went away. If the file cannot be read to `end`, the response is
 * destroyed, never ended short, and the promise rejects with the reason.
 */
export async function sendFileRange(res: ServerResponse, path: string, start: number, end: number, chunkSize: number, pool: BufferPool): Promise<void> {
  const file = await open(path, 'r').catch((err: unknown) => {
    res.destroy();
    throw err;
  });
  const free: Buffer[] = Array.from({ length: BUFFERS_PER_TRANSFER }, () => pool.take(chunkSize));
  let wake: (() => void) | undefined;
  // The client may have left while the file was being opened.
  let gone = res.destroyed;
  let done = false;
  const onClose = () => {
    gone = true;
    wake?.();
  };
  res.once('close', onClose);
  const nextFree = async (): Promise<Buffer | undefined> => {
    while (free.length === 0 && !gone) await new Promise<void>((r) => (wake = r));
    return gone ? undefined : free.pop();
  };
  const released = (buf: Buffer) => () => {
    if (done) return pool.give(buf);
    free.push(buf);
    const w = wake;
    wake = undefined;
    w?.();
  };
  try {
    let pos = start;
    while (pos <= end) {
      const buf = await nextFree();
      if (!buf) return;
      const { bytesRead } = await file.read(buf, 0, Math.min(chunkSize, end - pos + 1), pos);
      // The file shrank under us: a short body would be taken for the whole asset.
      if (bytesRead === 0) throw new Error(`${path} ended at byte ${pos}, before ${end + 1}`);
      pos += bytesRead;
      // http's _writeRaw (Node 20) drops a write to a destroyed socket, and parks one to a socket that
      // is no longer writable (the client sent its FIN and the server ended its side) in a queue that
      // dies with the response; neither calls the write's callback, and 'close' comes later. Written
      // now, this buffer would never come back, and the client has stopped taking bytes anyway.
      if (res.socket && (res.socket.destroyed || !res.socket.writable)) {
        free.push(buf);
        return;
      }
      res.write(buf.subarray(0, bytesRead), released(buf));
    }
    res.end();
  } catch (err) {
    res.destroy();
    throw err;
  } finally {
    res.off('close', onClose);
    // Buffers still in the socket go back to the pool when it lets go of them.
    done = true;
    for (const buf of free.splice(0)) pool.give(buf);
    await file.close();
  }
}
