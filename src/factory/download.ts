// One file from an HTTP server into the cache, resumably and atomically.
// Bytes go to <dest>.part; a rerun (or a retry after the connection dies)
// asks for the rest with Range (RFC 9110 §14.2) guarded by If-Range (§13.1.5)
// so a file that changed on the server restarts from zero instead of being
// spliced. Only a complete file, of the size the server announced, is renamed
// onto <dest>, so a reader never sees a partial asset. Connect and idle
// timeouts bound every wait: without a network it fails fast, never hangs.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Agent, interceptors, request, type Dispatcher } from 'undici';

export interface DownloadOptions {
  url: string;
  dest: string;
  connectTimeoutMs?: number;
  /** Longest silence allowed while waiting for headers or between body chunks. */
  idleTimeoutMs?: number;
  /**
   * A server trickling bytes is never idle, so the idle timeout misses it:
   * fewer than minBytesPerSecond averaged over lowSpeedWindowMs aborts the
   * attempt (curl's --speed-limit/--speed-time). 0 turns it off.
   */
  minBytesPerSecond?: number;
  lowSpeedWindowMs?: number;
  /** Attempts in all; each one after the first resumes where the last stopped. */
  attempts?: number;
  retryDelayMs?: number;
  onProgress?: (p: { received: number; total: number | undefined; resumedFrom: number }) => void;
}

export interface Downloaded {
  size: number;
  sha256: string;
  /** Byte offset the last attempt resumed from (0 for a fresh download). */
  resumedFrom: number;
  attempts: number;
}

export class DownloadError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

interface PartMeta { url: string; validator?: string }

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** A one-line reason an operator can act on. */
export function describeNetworkError(err: unknown, url: string): DownloadError {
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  const code = e.code ?? e.cause?.code;
  const host = new URL(url).host;
  if (code && NETWORK_CODES.has(code)) {
    return new DownloadError(`cannot reach ${host} (${code}): no network route to the Image Factory. Offline? Fetch the files elsewhere and use: rackboot assets import --dir DIR`, false);
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new DownloadError(`${host} went silent (${code}) while sending ${url}`, true);
  return new DownloadError(`download of ${url} failed: ${code ? `${code} ` : ''}${e.message ?? String(err)}`, true);
}

const DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EFBIG']);

/**
 * A write error on our side is not the network's fault and a retry cannot
 * fix it. The partial file is removed: after a failed write its tail is not
 * known to be whole, and removing it gives the space back.
 */
function diskError(err: unknown, part: string): DownloadError | undefined {
  const code = (err as { code?: string }).code;
  if (!code || !DISK_CODES.has(code)) return undefined;
  const what = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : 'permission or I/O error';
  rmSync(part, { force: true });
  rmSync(`${part}.json`, { force: true });
  return new DownloadError(`cannot write ${part}: ${what} (${code}). Free space or fix ${dirname(part)}, then rerun.`, false);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function closed(stream: WriteStream): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((r) => stream.once('close', () => r()));
}

function readMeta(file: string): PartMeta | undefined {
  try { return JSON.parse(readFileSync(file, 'utf8')) as PartMeta; } catch { return undefined; }
}

// Start and total from Content-Range "bytes a-b/total", or the total alone from "bytes */total" (RFC 9110 §14.4).
function totalFromContentRange(h: string | string[] | undefined): { start?: number; total?: number } {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(String(h ?? ''));
  if (!m) return {};
  return { start: m[1] === undefined ? undefined : Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

async function attempt(o: DownloadOptions, dispatcher: Dispatcher, part: string, metaFile: string): Promise<{ resumedFrom: number }> {
  const meta = readMeta(metaFile);
  let have = existsSync(part) && meta?.url === o.url ? statSync(part).size : 0;
  const headers: Record<string, string> = { 'user-agent': 'rackboot' };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    if (meta?.validator) headers['if-range'] = meta.validator;
  }
  let res: Dispatcher.ResponseData<unknown>;
  try {
    res = await request(o.url, { method: 'GET', headers, dispatcher });
  } catch (err) {
    throw describeNetworkError(err, o.url);
  }
  let total: number | undefined;
  if (res.statusCode === 206) {
    const cr = totalFromContentRange(res.headers['content-range']);
    if (cr.start !== have) {
      await res.body.dump();
      rmSync(part, { force: true });
      throw new DownloadError(`${o.url}: server resumed at ${cr.start}, not ${have}; starting over`, true);
    }
    total = cr.total;
  } else if (res.statusCode === 200) {
    have = 0; // no range support, or If-Range said the file changed: the whole body follows
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) ? len : undefined;
  } else if (res.statusCode === 416 && have > 0) {
    await res.body.dump();
    const { total: t } = totalFromContentRange(res.headers['content-range']);
    if (t === have) return { resumedFrom: have };
    rmSync(part, { force: true });
    throw new DownloadError(`${o.url}: the partial file no longer fits the server's; starting over`, true);
  } else {
    await res.body.dump();
    throw new DownloadError(`${o.url}: HTTP ${res.statusCode}${res.statusCode === 404 ? ' (unknown schematic or version? register it with --register)' : ''}`, res.statusCode >= 500);
  }
  const validator = (res.headers.etag as string | undefined) ?? (res.headers['last-modified'] as string | undefined);
  try {
    writeFileSync(metaFile, JSON.stringify({ url: o.url, validator } satisfies PartMeta));
  } catch (err) {
    await res.body.dump().catch(() => undefined);
    throw diskError(err, part) ?? err;
  }
  const resumedFrom = have;
  let received = have;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      o.onProgress?.({ received, total, resumedFrom });
      cb(null, chunk);
    },
  });
  const minRate = o.minBytesPerSecond ?? 1024;
  const windowMs = o.lowSpeedWindowMs ?? 30_000;
  let windowStart = received;
  const speedCheck = minRate > 0
    ? setInterval(() => {
      const got = received - windowStart;
      windowStart = received;
      if (got < (minRate * windowMs) / 1000) counter.destroy(new DownloadError(`${new URL(o.url).host} is trickling: ${got} bytes in ${windowMs / 1000} s while sending ${o.url}`, true));
    }, windowMs)
    : undefined;
  const file = createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
  try {
    await pipeline(res.body, counter, file);
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    throw diskError(err, part) ?? describeNetworkError(err, o.url);
  } finally {
    clearInterval(speedCheck);
    // pipeline() settles as soon as a stream fails, while a write the file
    // stream already handed to the thread pool may still land. The retry
    // resumes from the file's size, so it must not measure it before then:
    // a late write would append bytes after the retry's Range start.
    await closed(file);
  }
  const size = statSync(part).size;
  if (total !== undefined && size !== total) throw new DownloadError(`${o.url}: got ${size} of ${total} bytes`, true);
  return { resumedFrom };
}

export async function downloadFile(o: DownloadOptions): Promise<Downloaded> {
  mkdirSync(dirname(o.dest), { recursive: true });
  const part = `${o.dest}.part`;
  const metaFile = `${o.dest}.part.json`;
  const idle = o.idleTimeoutMs ?? 30_000;
  const agent = new Agent({ connect: { timeout: o.connectTimeoutMs ?? 10_000 }, headersTimeout: idle, bodyTimeout: idle });
  // The factory may redirect image downloads to a CDN.
  const dispatcher = agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  const attempts = o.attempts ?? 3;
  try {
    for (let n = 1; ; n++) {
      try {
        const { resumedFrom } = await attempt(o, dispatcher, part, metaFile);
        const size = statSync(part).size;
        const sha256 = await sha256File(part);
        renameSync(part, o.dest);
        rmSync(metaFile, { force: true });
        return { size, sha256, resumedFrom, attempts: n };
      } catch (err) {
        const retryable = err instanceof DownloadError ? err.retryable : true;
        if (!retryable || n >= attempts) throw err;
        await new Promise((r) => setTimeout(r, (o.retryDelayMs ?? 1000) * n));
      }
    }
  } finally {
    await agent.close().catch(() => undefined);
  }
}
