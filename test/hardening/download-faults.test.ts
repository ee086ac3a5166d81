// Image Factory misbehaving (silent, trickling, truncating) and our own disk
// failing (full, read-only) while an asset downloads. Servers are raw
// sockets on 127.0.0.1; the small disks are tmpfs mounts this test makes.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DownloadError, downloadFile } from '../../src/factory/download.js';
import { missingPrerequisites, sh } from '../helpers/netns.js';
import { startFakeFactory, type FakeFactory } from '../factory/fake-factory.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const file = randomBytes(3 * 1024 * 1024 + 5);
const PATH = '/image/abc/v1.11.5/initramfs-amd64.xz';

/** A TCP server whose every connection is handed to `onConn` (after the request head arrived). */
async function rawServer(onConn: (s: Socket) => void): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const info = { url: '', requests: 0, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.once('data', () => { info.requests++; onConn(s); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  info.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return info;
}

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'rbh-dl-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

/** Nothing but the final file (or nothing at all) is left in the directory. */
function leftovers(d: string): string[] {
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith('.part') || n.endsWith('.part.json')) : [];
}

describe('Image Factory faults', () => {
  it('a server that accepts but never answers: the idle timeout ends each attempt, nothing at the destination', async () => {
    const srv = await rawServer(() => undefined);
    try {
      const dest = join(dir, 'a', 'f');
      const started = Date.now();
      await expect(downloadFile({ url: srv.url + PATH, dest, idleTimeoutMs: 300, attempts: 2, retryDelayMs: 10 })).rejects.toThrow(/went silent \(UND_ERR_HEADERS_TIMEOUT\)/);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(srv.requests).toBe(2);
      expect(existsSync(dest)).toBe(false);
    } finally { await srv.close(); }
  });

  it('a slow trickle (never idle, never done) is cut by the low-speed limit, not waited on forever', async () => {
    const timers: NodeJS.Timeout[] = [];
    const srv = await rawServer((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${file.length}\r\n\r\n`);
      let at = 0;
      timers.push(setInterval(() => { if (!s.destroyed) s.write(file.subarray(at, (at += 8))); }, 50));
    });
    try {
      const dest = join(dir, 'b', 'f');
      const started = Date.now();
      const err = await downloadFile({ url: srv.url + PATH, dest, idleTimeoutMs: 5_000, minBytesPerSecond: 1_000, lowSpeedWindowMs: 400, attempts: 2, retryDelayMs: 10 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect((err as Error).message).toMatch(/is trickling: \d+ bytes in 0.4 s/);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(srv.requests).toBe(2);
      expect(existsSync(dest)).toBe(false);
    } finally {
      for (const t of timers) clearInterval(t);
      await srv.close();
    }
  });

  it('a truncated body (Content-Length promised, connection closed early) never lands at the destination; a rerun completes', async () => {
    const srv = await rawServer((s) => {
      s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${file.length}\r\n\r\n`), file.subarray(0, 1_000_000)]));
    });
    const dest = join(dir, 'c', 'f');
    try {
      await expect(downloadFile({ url: srv.url + PATH, dest, attempts: 2, retryDelayMs: 10 })).rejects.toThrow(DownloadError);
      expect(existsSync(dest)).toBe(false);
    } finally { await srv.close(); }
    const good = await startFakeFactory({ [PATH]: file });
    try {
      const r = await downloadFile({ url: good.url + PATH, dest });
      expect(r.sha256).toBe(sha(file));
      expect(readFileSync(dest).equals(file)).toBe(true);
      expect(leftovers(join(dir, 'c'))).toEqual([]);
    } finally { await good.close(); }
  });

  it('a chunked body cut mid-chunk is an error, never a short file', async () => {
    const srv = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      s.write(`100000\r\n`);
      s.write(file.subarray(0, 40_000), () => s.destroy());
    });
    try {
      const dest = join(dir, 'd', 'f');
      await expect(downloadFile({ url: srv.url + PATH, dest, attempts: 1 })).rejects.toThrow(DownloadError);
      expect(existsSync(dest)).toBe(false);
    } finally { await srv.close(); }
  });
});

const noRoot = missingPrerequisites(['/usr/bin/mount', '/usr/bin/umount']);

describe('our disk failing under a download', () => {
  let mnt: string;
  let factory: FakeFactory;
  beforeEach(async () => {
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    factory = await startFakeFactory({ [PATH]: file });
  });
  afterEach(async () => {
    await factory.close();
    try { sh('umount', [mnt]); } catch { /* not mounted */ }
  });

  it.skipIf(noRoot)('disk full: a clear non-retried error, no torn file, space given back; after freeing space a rerun completes', async () => {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'rbh-full', mnt]);
    const dest = join(mnt, 'abc', 'v1.11.5', 'initramfs-amd64.xz');
    const err = await downloadFile({ url: factory.url + PATH, dest, attempts: 3, retryDelayMs: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/cannot write .*initramfs-amd64\.xz\.part: the disk is full \(ENOSPC\)/);
    expect(factory.requests.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(existsSync(dest)).toBe(false);
    expect(leftovers(join(mnt, 'abc', 'v1.11.5'))).toEqual([]);
    sh('mount', ['-o', 'remount,size=8m', mnt]);
    const r = await downloadFile({ url: factory.url + PATH, dest });
    expect(r.sha256).toBe(sha(file));
    expect(readFileSync(dest).equals(file)).toBe(true);
  });

  it.skipIf(noRoot)('a read-only cache: a clear error naming the cause, nothing retried', async () => {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'rbh-ro', mnt]);
    mkdirSync(join(mnt, 'abc'), { recursive: true });
    sh('mount', ['-o', 'remount,ro', mnt]);
    const dest = join(mnt, 'abc', 'initramfs-amd64.xz');
    const err = await downloadFile({ url: factory.url + PATH, dest, attempts: 3, retryDelayMs: 10 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/read-only \(EROFS\)/);
    expect((err as DownloadError).retryable).toBe(false);
    expect(existsSync(dest)).toBe(false);
  });
});
