// The body of every large public file route (/assets, /uki, /ipxe, /v2
// blobs): handed to the kernel with sendfile where the socket allows it
// (zero-copy.ts), streamed through a few reused buffers otherwise
// (send-file.ts). The route sets status and headers (Content-Length
// included); this writes them, sends the bytes and ends the response.
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { BUFFERS_PER_TRANSFER, BufferPool, sendFileRange } from './send-file.js';
import { loadZeroCopySend, sendFileZeroCopy, type ZeroCopySend } from './zero-copy.js';

// Each streamed transfer holds BUFFERS_PER_TRANSFER chunks. Big chunks are
// what make a streamed transfer fast: every chunk costs a read, a write and
// some garbage. A rack booting at once must not hold fifty 1 MiB pairs, so
// the budget is split between the transfers open when one starts, down to
// MIN_CHUNK: below 256 KiB fifty clients got half the throughput (measured
// with wrk against nginx, see the README's Performance section) for little
// memory saved.
const TRANSFER_BUDGET = 16 << 20;
const MIN_CHUNK = 256 << 10;
const MAX_CHUNK = 1 << 20;

/** Read size for a new streamed transfer when `open` transfers (this one included) are running. */
export function chunkSizeFor(open: number): number {
  const share = TRANSFER_BUDGET / (BUFFERS_PER_TRANSFER * Math.max(1, open));
  const pow2 = 2 ** Math.floor(Math.log2(share));
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, pow2));
}

export class FileBodySender {
  private open = 0;
  private readonly pool: BufferPool;

  /** `idleBuffers`: bytes of streaming buffers kept for the next transfers. `zeroCopy`: the addon's calls, undefined to always stream. */
  constructor(idleBuffers: number, readonly zeroCopy: ZeroCopySend | undefined = loadZeroCopySend()) {
    this.pool = new BufferPool(idleBuffers);
  }

  /** Takes over `reply`: sends its status and headers, then bytes `start`..`end` (inclusive) of `file`; none for HEAD or an empty range. `what` names the transfer in a failure's log line. */
  send(reply: FastifyReply, file: string, start: number, end: number, what: string): void {
    reply.hijack();
    // onResponse hooks (metrics) still run; they read the headers from the reply.
    reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    if (reply.request.method === 'HEAD' || end < start) return void reply.raw.end();
    this.open++;
    this.body(reply, file, start, end)
      .catch((err: unknown) => reply.log.error({ err, file }, `${what} transfer failed`))
      .finally(() => this.open--);
  }

  private async body(reply: FastifyReply, file: string, start: number, end: number): Promise<void> {
    if (this.zeroCopy && (await sendFileZeroCopy(reply.raw, file, start, end, this.zeroCopy))) return;
    await sendFileRange(reply.raw, file, start, end, chunkSizeFor(this.open), this.pool);
  }
}
