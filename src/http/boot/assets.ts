// GET /assets/*: the Talos kernel and initramfs from the local cache, with
// Range support (iPXE and curl resume with it). Paths are resolved inside
// the assets root and refused if they leave it, by name or by symlink.
import { realpath, stat } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpContext } from '../context.js';
import { BUFFERS_PER_TRANSFER, BufferPool, sendFileRange } from './send-file.js';
import { PUBLIC } from '../access.js';

/** Resolves `requested` under `root`, or returns undefined if it would leave the root. */
export async function resolveInside(root: string, requested: string): Promise<string | undefined> {
  if (requested.includes('\0') || requested.includes('\\') || isAbsolute(requested)) return undefined;
  const rootReal = await realpath(root).catch(() => undefined);
  if (!rootReal) return undefined;
  const candidate = resolve(rootReal, requested);
  if (!isWithin(rootReal, candidate)) return undefined;
  const real = await realpath(candidate).catch(() => undefined);
  if (!real || !isWithin(rootReal, real)) return undefined;
  return real;
}

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

/** Parses a single `bytes=` range (RFC 9110 §14.1.2); multiple ranges are served as the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return undefined;
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

// Each transfer holds BUFFERS_PER_TRANSFER chunks. Big chunks are what make
// a transfer fast: every chunk costs a read, a write and some garbage, and
// the copy through user space is what nginx's sendfile avoids. A rack booting
// at once must not hold fifty 1 MiB pairs, so the budget is split between the
// transfers open when one starts, down to MIN_CHUNK: below 256 KiB fifty
// clients got half the throughput (measured with wrk against nginx, see the
// README's Performance section) for little memory saved.
const TRANSFER_BUDGET = 16 << 20;
const MIN_CHUNK = 256 << 10;
const MAX_CHUNK = 1 << 20;
/** Idle buffers kept for the next transfers; beyond this they are left to the GC. */
const IDLE_BUFFERS = 8 << 20;

/** Read size for a new transfer when `open` transfers (this one included) are running. */
export function chunkSizeFor(open: number): number {
  const share = TRANSFER_BUDGET / (BUFFERS_PER_TRANSFER * Math.max(1, open));
  const pow2 = 2 ** Math.floor(Math.log2(share));
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, pow2));
}

export function registerAssets(app: FastifyInstance, ctx: HttpContext): void {
  let open = 0;
  const pool = new BufferPool(IDLE_BUFFERS);
  const send = (reply: FastifyReply, file: string, start: number, end: number) => {
    reply.hijack();
    // onResponse hooks (metrics) still run; they read the headers from the reply.
    reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    if (reply.request.method === 'HEAD' || end < start) return void reply.raw.end();
    open++;
    sendFileRange(reply.raw, file, start, end, chunkSizeFor(open), pool)
      .catch((err: unknown) => reply.log.error({ err, file }, 'asset transfer failed'))
      .finally(() => open--);
  };

  app.get('/assets/*', PUBLIC, async (req, reply) => {
    const requested = (req.params as { '*': string })['*'];
    const file = await resolveInside(ctx.settings.assetsDir, requested);
    if (!file) return notFound(reply, requested);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return notFound(reply, requested);

    reply.header('accept-ranges', 'bytes').header('last-modified', st.mtime.toUTCString());
    const range = parseRange(req.headers.range, st.size);
    if (range === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${st.size}`).send({ message: 'range not satisfiable' });
    }
    reply.type('application/octet-stream');
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${st.size}`).header('content-length', range.end - range.start + 1);
      return send(reply, file, range.start, range.end);
    }
    reply.header('content-length', st.size);
    return send(reply, file, 0, st.size - 1);
  });
}

function notFound(reply: FastifyReply, requested: string) {
  return reply.code(404).send({ message: `no such asset: ${requested}` });
}
