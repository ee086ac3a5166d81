import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, open, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../../src/factory/download.js';
import { closedPort, startFakeFactory, type FakeFactory } from './fake-factory.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Occupies every thread of libuv's pool with an open() of a FIFO that has no
 * writer, so a file write issued meanwhile waits in the queue, as it does on
 * a loaded disk; release() gives each FIFO its writer and the pool drains.
 */
function threadPoolBlocker(dir: string) {
  const fifos = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, (_, i) => join(dir, `pool-${i}`));
  const state = { blocked: false, released: false };
  return {
    state,
    block() {
      if (state.blocked) return;
      state.blocked = true;
      for (const f of fifos) {
        execFileSync('mkfifo', [f]);
        open(f, 'r', (_err, fd) => { if (fd !== undefined) closeSync(fd); });
      }
    },
    release() {
      if (!state.blocked || state.released) return;
      state.released = true;
      for (const f of fifos) closeSync(openSync(f, 'w'));
    },
  };
}

describe('downloadFile against a local factory', () => {
  let dir: string;
  let factory: FakeFactory;
  const kernel = randomBytes(3 * 1024 * 1024 + 17);
  const path = '/image/abc/v1.11.5/kernel-amd64';

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-dl-'));
    factory = await startFakeFactory({ [path]: kernel });
  });
  afterEach(async () => {
    await factory.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const dest = () => join(dir, 'abc', 'v1.11.5', 'kernel-amd64');

  it('downloads whole, records size and sha256, leaves no temp file', async () => {
    const r = await downloadFile({ url: factory.url + path, dest: dest() });
    expect(r).toEqual({ size: kernel.length, sha256: sha(kernel), resumedFrom: 0, attempts: 1 });
    expect(readFileSync(dest()).equals(kernel)).toBe(true);
    expect(existsSync(dest() + '.part')).toBe(false);
    expect(existsSync(dest() + '.part.json')).toBe(false);
  });

  it('a server that dies mid-file: the retry resumes with Range from where it stopped', async () => {
    factory.dieMidFile = 1;
    const progress: number[] = [];
    const r = await downloadFile({ url: factory.url + path, dest: dest(), retryDelayMs: 10, onProgress: (p) => progress.push(p.received) });
    expect(r.attempts).toBe(2);
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(r.resumedFrom).toBeLessThan(kernel.length);
    expect(factory.requests.map((q) => q.range)).toEqual([undefined, `bytes=${r.resumedFrom}-`]);
    expect(factory.requests[1]!.ifRange).toMatch(/^"[0-9a-f]{16}"$/);
    expect(readFileSync(dest()).equals(kernel)).toBe(true);
    expect(r.sha256).toBe(sha(kernel));
    expect(progress.at(-1)).toBe(kernel.length);
  });

  it('atomic: when every attempt dies, nothing appears at the destination; a later run resumes the partial file', async () => {
    factory.dieMidFile = 2;
    await expect(downloadFile({ url: factory.url + path, dest: dest(), attempts: 2, retryDelayMs: 10 })).rejects.toThrow();
    expect(existsSync(dest())).toBe(false);
    const partial = statSync(dest() + '.part').size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(kernel.length);
    const r = await downloadFile({ url: factory.url + path, dest: dest() });
    expect(r.resumedFrom).toBe(partial);
    expect(factory.requests.at(-1)!.range).toBe(`bytes=${partial}-`);
    expect(readFileSync(dest()).equals(kernel)).toBe(true);
  });

  it('a retry waits for the dead attempt\'s last write to land before it measures the file (no bytes spliced twice)', async () => {
    factory.dieMidFile = 1;
    const pool = threadPoolBlocker(dir);
    const half = Math.floor(kernel.length / 2);
    const download = downloadFile({
      url: factory.url + path, dest: dest(), attempts: 2, retryDelayMs: 10,
      // Near the end of what the dying server sends, so the last writes are
      // still queued when the connection drops.
      onProgress: (p) => { if (p.received >= half - 128 * 1024 && factory.requests.length === 1) pool.block(); },
    });
    // A retry that does not wait asks the server again while the write is
    // queued; one that waits cannot ask until the pool is free.
    const deadline = Date.now() + 1500;
    while (factory.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const requestsBeforeRelease = factory.requests.length;
    pool.release();
    const r = await download;
    expect(pool.state.blocked).toBe(true);
    expect(requestsBeforeRelease).toBe(1);
    expect(r.attempts).toBe(2);
    expect(factory.requests[1]!.range).toBe(`bytes=${r.resumedFrom}-`);
    expect(readFileSync(dest()).equals(kernel)).toBe(true);
  });

  it('a file that changed on the server is not spliced: If-Range fails and it starts over', async () => {
    factory.dieMidFile = 1;
    await expect(downloadFile({ url: factory.url + path, dest: dest(), attempts: 1 })).rejects.toThrow();
    const changed = randomBytes(kernel.length);
    factory.files.set(path, changed);
    const r = await downloadFile({ url: factory.url + path, dest: dest() });
    expect(r.resumedFrom).toBe(0);
    expect(readFileSync(dest()).equals(changed)).toBe(true);
  });

  it('a server without Range support: starts over and still ends complete', async () => {
    factory.dieMidFile = 1;
    factory.noRange = true;
    const r = await downloadFile({ url: factory.url + path, dest: dest(), retryDelayMs: 10 });
    expect(r).toMatchObject({ resumedFrom: 0, attempts: 2, size: kernel.length });
    expect(readFileSync(dest()).equals(kernel)).toBe(true);
  });

  it('no network (a closed local port): fails fast with a clear message, no retries', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    await expect(downloadFile({ url: `http://127.0.0.1:${port}${path}`, dest: dest(), retryDelayMs: 5000 }))
      .rejects.toThrow(`cannot reach 127.0.0.1:${port} (ECONNREFUSED): no network route to the Image Factory. Offline? Fetch the files elsewhere and use: rackboot assets import --dir DIR`);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(existsSync(dest())).toBe(false);
  });

  it('a server that goes silent mid-body: the idle timeout ends it, it never hangs', async () => {
    factory.stall = true;
    const t0 = Date.now();
    await expect(downloadFile({ url: factory.url + path, dest: dest(), idleTimeoutMs: 300, attempts: 2, retryDelayMs: 10 })).rejects.toThrow(/went silent \(UND_ERR_BODY_TIMEOUT\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(dest())).toBe(false);
  });

  it('404 (unknown schematic or version) is not retried', async () => {
    await expect(downloadFile({ url: factory.url + '/image/abc/v9.9.9/kernel-amd64', dest: dest(), retryDelayMs: 5000 })).rejects.toThrow(/HTTP 404 \(unknown schematic or version\?/);
    expect(factory.requests).toHaveLength(1);
  });
});
