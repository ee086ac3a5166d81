// The zero-copy body path (src/http/boot/zero-copy.ts over the addon's
// sendFile, native/bindtodevice/sendfile.c) through FileBodySender on a real
// fastify socket, as the asset routes use it; and the streaming fallback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { FileBodySender } from '../../../src/http/boot/file-body.js';
import { loadZeroCopySend, plainSocketFd, type ZeroCopySend } from '../../../src/http/boot/zero-copy.js';
import { threadNames, timesRun } from '../../helpers/threads.js';

const SIZE = 24 << 20;
const native = loadZeroCopySend();
let dir: string;
let file: string;
let digest: string;
let app: FastifyInstance;
let base: string;
let port: number;
/** What the route's sender did, per request. */
const calls = { native: 0, completed: [] as { errno: number; sent: number }[], errors: [] as string[] };
/** Bytes the route claims beyond the file's real size (a file that shrank after its stat). */
let claimExtra = 0;
/** The server-side socket descriptor of the last native call. */
let serverSocketFd: number | undefined;

/** The real addon, counting its calls and outcomes. */
function counting(addon: ZeroCopySend): ZeroCopySend {
  return {
    sendFile(sock, fd, offset, length, done) {
      calls.native++;
      serverSocketFd = sock;
      return addon.sendFile(sock, fd, offset, length, (errno, sent) => {
        calls.completed.push({ errno, sent });
        done(errno, sent);
      });
    },
    abortSendFile: (id) => addon.abortSendFile(id),
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const openFds = () => readdirSync('/proc/self/fd').length;

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function fetchBody(url: string, opts: { agent?: Agent; headers?: Record<string, string>; method?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: opts.agent, headers: opts.headers, method: opts.method ?? 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function curl(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-s', '-S', '--max-time', '60', ...args]);
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => (err += c));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
  });
}

function serve(sender: () => FileBodySender): FastifyInstance {
  const fastify = Fastify();
  fastify.get('/f', (req, reply) => {
    const size = SIZE + claimExtra;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [start, end] = [Number(range[1]), Number(range[2])];
      reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', end - start + 1);
      return sender().send(reply, file, start, end, 'test');
    }
    reply.header('content-length', size);
    return sender().send(reply, file, 0, size - 1, 'test');
  });
  return fastify;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-zero-copy-'));
  file = join(dir, 'initramfs');
  const bytes = randomBytes(SIZE);
  writeFileSync(file, bytes);
  digest = sha256(bytes);
  const sender = new FileBodySender(0, native && counting(native));
  // Failures the sender logs, so a test can see why a body was cut.
  app = serve(() => sender);
  app.addHook('onRequest', async (req) => {
    req.log.error = ((obj: { err?: Error }) => void calls.errors.push(obj.err?.message ?? 'error')) as never;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!native)('zero-copy asset bodies (sendfile on the addon thread)', () => {
  it('sends the file byte for byte, through the native call, to curl and to Node', async () => {
    const before = calls.native;
    const viaCurl = await curl(['-o', '-', `${base}/f`]);
    expect(viaCurl.code).toBe(0);
    expect(sha256(viaCurl.stdout)).toBe(digest);
    const viaNode = await fetchBody(`${base}/f`);
    expect(viaNode.status).toBe(200);
    expect(viaNode.headers['content-length']).toBe(String(SIZE));
    expect(sha256(viaNode.body)).toBe(digest);
    expect(calls.native - before).toBe(2);
  });

  it('runs its transfers on threads named rb-sendfile, so top -H and /proc tell them from Node\'s', async () => {
    const viaNode = await fetchBody(`${base}/f`);
    expect(sha256(viaNode.body)).toBe(digest);
    expect(threadNames()).toContain('rb-sendfile');
  });

  it('keeps one client\'s transfers, one after another, on the first sending thread: the second only takes work while the first is short of CPU', async () => {
    // Dealt in turn (as before round 30, and between rounds 30 and 32), eight transfers wake each of the two threads at least four times.
    await fetchBody(`${base}/f`, { headers: { range: 'bytes=0-1048575' } });
    const before = timesRun('rb-sendfile');
    expect(before.size).toBe(2);
    for (let i = 0; i < 8; i++) {
      const part = await fetchBody(`${base}/f`, { headers: { range: `bytes=${i << 20}-${((i + 1) << 20) - 1}` } });
      expect(part.status).toBe(206);
      expect(part.body.length).toBe(1 << 20);
    }
    const woken = [...timesRun('rb-sendfile')].map(([tid, n]) => n - before.get(tid)!).sort((a, b) => a - b);
    // A busy CI box may leave the first thread short of CPU for a transfer or two.
    expect(woken[0]).toBeLessThanOrEqual(2);
    expect(woken[1]).toBeGreaterThanOrEqual(6);
  });

  it('sends a range from its offset', async () => {
    const start = 5_000_001;
    const end = 13_000_000;
    const whole = (await curl(['-o', '-', `${base}/f`])).stdout;
    const part = await curl(['-o', '-', '-r', `${start}-${end}`, `${base}/f`]);
    expect(part.code).toBe(0);
    expect(part.stdout.length).toBe(end - start + 1);
    expect(part.stdout.equals(whole.subarray(start, end + 1))).toBe(true);
  });

  it('sends many short ranges at once, each from its own offset', async () => {
    // Short bodies finish on the I/O thread at once, often before sendFile
    // has returned on the loop: the race test/net/addon-asan.test.ts found.
    const before = calls.native;
    const whole = (await curl(['-o', '-', `${base}/f`])).stdout;
    const offsets = Array.from({ length: 128 }, (_, i) => i * 65_537);
    for (let round = 0; round < 4; round++) {
      const parts = await Promise.all(offsets.map((start) => fetchBody(`${base}/f`, { headers: { range: `bytes=${start}-${start + 999}` } })));
      for (const [i, part] of parts.entries()) {
        expect(part.status).toBe(206);
        expect(part.body.equals(whole.subarray(offsets[i], offsets[i]! + 1000))).toBe(true);
      }
    }
    expect(calls.native - before).toBe(4 * offsets.length + 1);
  });

  it('answers HEAD with the headers only, without a native call', async () => {
    const before = calls.native;
    const res = await fetchBody(`${base}/f`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(SIZE));
    expect(res.body.length).toBe(0);
    expect(calls.native).toBe(before);
  });

  it('keeps the connection alive: a second request on the same socket after a sendfile body', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await fetchBody(`${base}/f`, { agent, headers: { range: 'bytes=0-1048575' } });
      const second = await fetchBody(`${base}/f`, { agent });
      expect(first.status).toBe(206);
      expect(first.body.length).toBe(1 << 20);
      expect(second.reused).toBe(true);
      expect(sha256(second.body)).toBe(digest);
    } finally {
      agent.destroy();
    }
  });

  it('a client that leaves mid-body ends the transfer with an error, leaks no descriptor, and the next transfer works', async () => {
    // A transfer of the test before may still be calling back after its client had every byte.
    await until('earlier transfers to call back', () => calls.completed.length === calls.native);
    const fdsBefore = openFds();
    const done = calls.completed.length;
    // A client that asks, reads a little, then resets: the sender is blocked on a full socket by then.
    const client: Socket = connect(port, '127.0.0.1');
    client.write('GET /f HTTP/1.1\r\nHost: x\r\n\r\n');
    let got = 0;
    await new Promise<void>((resolve) => {
      client.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 1 << 20) {
          client.pause();
          resolve();
        }
      });
    });
    await until('the transfer to start', () => calls.native > done);
    client.resetAndDestroy();
    await until('the native call to end', () => calls.completed.length > done);
    expect(calls.completed.at(-1)!.errno).not.toBe(0);
    expect(calls.completed.at(-1)!.sent).toBeLessThan(SIZE);
    await until('descriptors to come back to their count before', () => openFds() <= fdsBefore);
    const next = await fetchBody(`${base}/f`);
    expect(sha256(next.body)).toBe(digest);
  });

  it('a connection the server drops mid-body (e.g. on stop) is closed for the client too, not kept open by the addon', async () => {
    await until('earlier transfers to call back', () => calls.completed.length === calls.native);
    const fdsBefore = openFds();
    const done = calls.completed.length;
    const client: Socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    client.on('error', () => undefined);
    client.write('GET /f HTTP/1.1\r\nHost: x\r\n\r\n');
    // Read nothing: the transfer waits on the full socket.
    client.pause();
    const nativeBefore = calls.native;
    await until('the native call to start', () => calls.native > nativeBefore);
    await new Promise((r) => setTimeout(r, 200));
    app.server.closeAllConnections();
    // Reading now drains what is queued; the connection must then end, not trickle on through the addon's descriptor.
    client.resume();
    await closed;
    await until('the native call to end', () => calls.completed.length > done);
    expect(calls.completed.at(-1)!.sent).toBeLessThan(SIZE);
    await until('descriptors to come back to their count before', () => openFds() <= fdsBefore);
    expect(sha256((await fetchBody(`${base}/f`)).body)).toBe(digest);
  });

  it('never ends a body short: a file smaller than announced cuts the connection and the failure is logged', async () => {
    claimExtra = 1000;
    try {
      const errorsBefore = calls.errors.length;
      const res = await curl(['-o', '/dev/null', `${base}/f`]);
      // curl: 18 = partial file (the connection closed before Content-Length bytes).
      expect(res.code).toBe(18);
      await until('the failure to be logged', () => calls.errors.length > errorsBefore);
      expect(calls.errors.at(-1)).toContain(`ended at byte ${SIZE}`);
      expect(calls.completed.at(-1)).toEqual({ errno: constants.errno.ENODATA, sent: SIZE });
    } finally {
      claimExtra = 0;
    }
  });

  it('sends the body corked (TCP_CORK, as nginx does with tcp_nopush) and takes the cork off before the response ends', async () => {
    // Node sets TCP_NODELAY: uncorked, each sendfile into a nearly full send
    // buffer pushes a short segment. A client that does not read keeps the
    // transfer live, so the cork can be read on the server's socket.
    const corked = (fd: number) => (native as unknown as { tcpCorked(fd: number): boolean }).tcpCorked(fd);
    const before = calls.native;
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    sock.write('GET /f HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the native call', () => calls.native > before && serverSocketFd !== undefined);
    const fd = serverSocketFd!;
    await until('the cork on the server socket', () => corked(fd));
    let got = 0;
    const ended = new Promise<void>((resolve) =>
      sock.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= SIZE) resolve();
      }),
    );
    const completed = calls.completed.length;
    sock.resume();
    await ended;
    await until('the callback', () => calls.completed.length > completed);
    // Uncorked at the end: Node's next write on this keep-alive connection is not held back.
    expect(corked(fd)).toBe(false);
    expect(calls.completed.at(-1)).toEqual({ errno: 0, sent: SIZE });
    sock.destroy();
  });
});

describe('the streaming fallback', () => {
  it('serves the same bytes without the addon (no zero-copy call)', async () => {
    const fallback = serve(() => new FileBodySender(0, undefined));
    await fallback.listen({ host: '127.0.0.1', port: 0 });
    try {
      const before = calls.native;
      const url = `http://127.0.0.1:${(fallback.server.address() as { port: number }).port}/f`;
      const res = await curl(['-o', '-', url]);
      expect(res.code).toBe(0);
      expect(sha256(res.stdout)).toBe(digest);
      const viaNode = await new Promise<Buffer>((resolve) => get(url, (r) => { const c: Buffer[] = []; r.on('data', (d: Buffer) => c.push(d)); r.on('end', () => resolve(Buffer.concat(c))); }));
      expect(sha256(viaNode)).toBe(digest);
      expect(calls.native).toBe(before);
    } finally {
      await fallback.close();
    }
  });

  it('is taken for a socket the kernel must not write to directly (TLS, no TCP handle)', () => {
    expect(plainSocketFd(null)).toBeUndefined();
    expect(plainSocketFd({ encrypted: true, destroyed: false, _handle: { fd: 5, constructor: { name: 'TCP' } } } as never)).toBeUndefined();
    expect(plainSocketFd({ destroyed: false, _handle: { fd: 5, constructor: { name: 'Pipe' } } } as never)).toBeUndefined();
  });
});
