import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { parseRange } from '../../../src/http/boot/assets.js';

let a: TestAppliance;
let base: string;
let rel: string;
beforeEach(async () => {
  a = await testAppliance();
  await a.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = a.app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
  rel = a.assetDir.slice(a.settings.assetsDir.length + 1);
  // Something outside the assets root that must never be served.
  writeFileSync(join(a.dir, 'secret.txt'), 'do not serve');
  symlinkSync(join(a.dir, 'secret.txt'), join(a.assetDir, 'escape-link'));
});
afterEach(async () => a.close());

describe('GET /assets/* over a real socket', () => {
  it('streams the whole file with Content-Length', async () => {
    const res = await request(`${base}/assets/${rel}/initramfs-amd64.xz`);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('65536');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(body.equals(readFileSync(join(a.assetDir, 'initramfs-amd64.xz')))).toBe(true);
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=65000-', 65000, 65535],
    ['bytes=-10', 65526, 65535],
    ['bytes=100-999999', 100, 65535],
  ])('honours Range %s', async (range, start, end) => {
    const res = await request(`${base}/assets/${rel}/initramfs-amd64.xz`, { headers: { range } });
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/65536`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(body.equals(readFileSync(join(a.assetDir, 'initramfs-amd64.xz')).subarray(start, end + 1))).toBe(true);
  });

  it('answers 416 for a range past the end', async () => {
    const res = await request(`${base}/assets/${rel}/initramfs-amd64.xz`, { headers: { range: 'bytes=70000-' } });
    await res.body.dump();
    expect(res.statusCode).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */65536');
  });

  it('counts streamed asset responses in the admin plane\'s /metrics', async () => {
    // The server counts a response when it ends it, which for a sendfile body is after the client has every byte: wait for the ends.
    let open = 0;
    a.app.server.on('request', (_req, res) => {
      open++;
      res.on('finish', () => open--);
    });
    await (await request(`${base}/assets/${rel}/initramfs-amd64.xz`)).body.dump();
    await (await request(`${base}/assets/${rel}/initramfs-amd64.xz`, { headers: { range: 'bytes=0-99' } })).body.dump();
    for (let i = 0; i < 200 && open > 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setImmediate(r));
    const metrics = (await a.admin.inject({ url: '/metrics', headers: ADMIN_HEADERS })).body;
    expect(metrics).toContain('rackboot_http_requests_total{method="GET",code="200"} 1');
    expect(metrics).toContain('rackboot_http_requests_total{method="GET",code="206"} 1');
    expect(metrics).toContain('rackboot_http_response_bytes_total 65636');
    expect((await request(`${base}/metrics`, { headers: ADMIN_HEADERS })).statusCode).toBe(404);
  });

  it('answers HEAD with the size and no body', async () => {
    const res = await request(`${base}/assets/${rel}/kernel-amd64`, { method: 'HEAD' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('100000');
  });

  it.each([
    '/assets/../secret.txt',
    '/assets/%2e%2e/secret.txt',
    '/assets/%2E%2E%2Fsecret.txt',
    '/assets/..%2fsecret.txt',
    '/assets/%2fetc%2fpasswd',
    '/assets//etc/passwd',
    '/assets/x/..%5c..%5csecret.txt',
    '/assets/x%00y',
  ])('refuses traversal %s', async (path) => {
    const res = await request(`${base}${path}`);
    const text = await res.body.text();
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(text).not.toContain('do not serve');
    expect(text).not.toContain('root:');
  });

  it('refuses a symlink that leaves the root', async () => {
    const res = await request(`${base}/assets/${rel}/escape-link`);
    const text = await res.body.text();
    expect(res.statusCode).toBe(404);
    expect(text).not.toContain('do not serve');
  });

  it('answers a missing asset with a JSON 404', async () => {
    const res = await request(`${base}/assets/${rel}/kernel-arm64`);
    expect(res.statusCode).toBe(404);
    expect(((await res.body.json()) as { message: string }).message).toContain('no such asset');
  });
});

describe('parseRange', () => {
  it.each([
    [undefined, 10, undefined],
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=5-2', 10, undefined],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=0-1,3-4', 10, undefined],
    ['items=0-1', 10, undefined],
  ])('%s of %i', (h, size, want) => expect(parseRange(h, size)).toEqual(want));
});
