// Hostile HTTP clients against the real server on 127.0.0.1: oversized
// headers and query strings, path traversal, slowloris, malformed JSON.
// Raw sockets, so no client library normalises what we send.
import { connect, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBootServer, type HttpLimits } from '../../src/http/server.js';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../helpers/appliance.js';

const SHORT: HttpLimits = { connectionTimeoutMs: 3_000, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 500, checkIntervalMs: 200 };

let a: TestAppliance;
let server: ReturnType<typeof buildBootServer>;
let port: number;

beforeAll(async () => {
  a = await testAppliance();
  // A secret just outside the assets root: traversal must never reach it.
  writeFileSync(join(a.settings.dataDir, 'secret.txt'), 'TOPSECRET');
  server = buildBootServer(a.ctx, SHORT);
  await server.listen({ host: '127.0.0.1', port: 0 });
  port = (server.server.address() as { port: number }).port;
});
afterAll(async () => {
  await server?.close();
  await a?.close();
});

/** Sends raw bytes, returns everything the server answered until it closed (or `ms` passed). */
function raw(request: string | Buffer, ms = 5_000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Infinity }); }, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') { clearTimeout(timer); reject(err); } });
    s.on('close', () => { clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Date.now() - started }); });
    // write, not end: Node drops a request whose client half-closes before the answer.
    s.write(request);
  });
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

async function healthy(): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
  return r.status === 200 && ((await r.json()) as { ok?: boolean }).ok === true;
}

describe('oversized requests', () => {
  it('a 64 KiB header is refused with 431 and the server keeps serving', async () => {
    const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(65_536)}\r\n\r\n`);
    expect(statusOf(r.text)).toBe(431);
    expect(await healthy()).toBe(true);
  });

  it('10 000 small headers are refused, not parsed into a huge object', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    const r = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`);
    expect(statusOf(r.text)).toBe(431);
    expect(await healthy()).toBe(true);
  });

  it('a 100 KiB query string is refused; a 4 KiB one on /ipxe is a clean 4xx, never a 500', async () => {
    const huge = await raw(`GET /ipxe?mac=${'f'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(statusOf(huge.text)).toBe(431);
    for (const q of [`mac=${'a'.repeat(4096)}`, `mac=aa:bb:cc:dd:ee:ff&${'x=1&'.repeat(1000)}`, 'mac=%ZZ%', `mac[]=${'1'.repeat(3000)}`, 'mac=aa&mac=bb&mac=cc']) {
      const res = await a.app.inject({ url: `/ipxe?${q}` });
      expect(res.statusCode, q.slice(0, 40)).toBeGreaterThanOrEqual(200);
      expect(res.statusCode, q.slice(0, 40)).toBeLessThan(500);
    }
  });

  it('a body over the 1 MiB limit is refused with 413 before it is parsed', async () => {
    const res = await a.admin.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' }, payload: `{"reason":"${'r'.repeat(2 << 20)}"}` });
    expect(res.statusCode).toBe(413);
    expect(a.store.getNode('cp-1')!.state).not.toBe('reimage-pending');
  });
});

describe('path traversal', () => {
  const attempts = [
    '/assets/../secret.txt', '/assets/../../data/secret.txt', '/assets/%2e%2e/secret.txt', '/assets/%2e%2e%2fsecret.txt',
    '/assets/..%2f..%2fetc%2fpasswd', '/assets/....//....//etc/passwd', '/assets/%252e%252e/secret.txt', '/assets/..%5csecret.txt',
    '/assets/%c0%ae%c0%ae/secret.txt', '/assets/x%00/../../secret.txt', '/assets//etc/passwd', '/assets/%2fetc%2fpasswd',
    '/ipxe/..%2fsecret.txt', '/ipxe/%2e%2e', '/ipxe/..%2f..%2f..%2fetc%2fpasswd', '/ipxe/%00',
    '/../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/ui/static/..%2f..%2fpackage.json',
  ];
  it.each(attempts)('%s never leaves its root', async (path) => {
    const r = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const status = statusOf(r.text);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(r.text).not.toContain('TOPSECRET');
    expect(r.text).not.toContain('root:x:0:0');
  });
});

describe('slowloris', () => {
  it('clients trickling headers are cut by the request timeout while normal clients are served', async () => {
    const slow: Socket[] = [];
    const closedAt: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 30; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(Date.now() - started));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      slow.push(s);
    }
    // One more header line every 150 ms: never idle, never complete.
    const drip = setInterval(() => { for (const s of slow) if (!s.destroyed) s.write(`X-Drip: ${Date.now()}\r\n`); }, 150);
    try {
      const served: boolean[] = [];
      while (Date.now() - started < 3_000) {
        served.push(await healthy());
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(served.length).toBeGreaterThan(5);
      expect(served.every(Boolean)).toBe(true);
      // requestTimeout 1 s, checked every 200 ms: all 30 are gone well before the 3 s idle timeout could matter.
      expect(closedAt).toHaveLength(30);
      expect(Math.max(...closedAt)).toBeLessThan(2_500);
    } finally {
      clearInterval(drip);
      for (const s of slow) s.destroy();
    }
  });

  it('a client that sends half a request and goes silent is closed too', async () => {
    const r = await raw(Buffer.from('GET /healthz HTTP/1.1\r\nHo'), 6_000).catch(() => ({ text: '', closedAfterMs: 0 }));
    // The server answers 408 and closes after requestTimeout, long before our 6 s guard.
    expect(r.closedAfterMs).toBeLessThan(4_000);
  });
});

describe('malformed JSON to the API', () => {
  const bodies = [
    '{', '{"reason":', '{"reason": "x",}', "{'reason':'x'}", 'null', '[]', '"just a string"', '12345', 'true',
    '{"reason": {"nested": ["deep"]}}', '{"__proto__": {"polluted": 1}}', '{"constructor": {"prototype": {"polluted": 1}}}',
    '['.repeat(100_000), '{"reason":"\ud800"}', '\u0000\u0001\u0002', '',
  ];
  it.each(bodies.map((b) => [b.slice(0, 40), b]))('POST reimage with %j answers 4xx or a clean result, never a 500', async (_label, body) => {
    const res = await a.admin.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage/cancel', headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' }, payload: body });
    expect(res.statusCode).toBeLessThan(500);
    expect(() => res.json()).not.toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('bytes that are not UTF-8, or a lying content-type, are refused without touching the node', async () => {
    const before = a.store.getNode('worker-1')!.state;
    for (const [type, payload] of [['application/json', Buffer.from([0xff, 0xfe, 0x7b, 0x00])], ['application/json; charset=utf-16', Buffer.from('{"reason":"x"}', 'utf16le')], ['text/xml', '<a/>']] as const) {
      const res = await a.admin.inject({ method: 'POST', url: '/api/nodes/worker-1/reimage', headers: { ...ADMIN_HEADERS, 'content-type': type }, payload });
      expect(res.statusCode, type).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, type).toBeLessThan(500);
    }
    expect(a.store.getNode('worker-1')!.state).toBe(before);
  });

  it('malformed JSON without the admin token is refused with 401 before the body is parsed', async () => {
    const res = await a.admin.inject({ method: 'POST', url: '/api/nodes/cp-1/reimage', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(res.statusCode).toBe(401);
  });
});
