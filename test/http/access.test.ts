// Every route the two planes register, taken from the servers themselves,
// is tried over real sockets (raw request lines, so no client normalises
// the URL first) without credentials, with a wrong token, with a session
// but no CSRF token, and under every spelling the router might map to the
// same handler. The real token must still open every admin route, so a
// server that refuses everything cannot pass.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { ADMIN, installAccessGuard, registeredRoutes, type RouteRecord } from '../../src/http/access.js';
import { adminTlsMaterial } from '../../src/http/admin/tls.js';
import { FailureBudget } from '../../src/http/admin/failure-budget.js';
import { ADMIN_TOKEN, harness, login, type Harness } from './admin/harness.js';

const SECRET = 'SECRET-MARKER-7f3a';
const SCRAPE_TOKEN = 'scrape-token-for-prometheus-0123';
let h: Harness;
let adminPort: number;
let bootPort: number;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  const probe = await harness();
  const tls = await adminTlsMaterial(probe.settings);
  await probe.close();
  // Hundreds of wrong tokens are sent here on purpose: a budget that never runs out keeps
  // them quick 401s (the budget and its held 429s are tested in admin/auth and admin/token-flood).
  h = await harness({ tls, budget: new FailureBudget(1e9, 1e9) });
  for (const file of ['kubeconfig', 'talosconfig']) writeFileSync(join(h.settings.dataDir, file), `${file}: ${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(h.settings.dataDir, 'metrics-token'), `${SCRAPE_TOKEN}\n`, { mode: 0o600 });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  await h.boot.listen({ host: '127.0.0.1', port: 0 });
  adminPort = (h.app.server.address() as { port: number }).port;
  bootPort = (h.boot.server.address() as { port: number }).port;
  session = await login(h.app);
});
afterAll(async () => h?.close());

interface Answer {
  status: number;
  location?: string;
  body: string;
}

/** One request exactly as written; resolves when the server closes, or shortly after the head of a stream. */
function send(plane: 'admin' | 'boot', method: string, target: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = plane === 'admin'
      ? tlsConnect({ host: '127.0.0.1', port: adminPort, rejectUnauthorized: false })
      : tcpConnect(bootPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => done(), 3_000);
    const done = () => {
      clearTimeout(timer);
      clearTimeout(limit);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0] ?? '';
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        location: /\r\nlocation: ([^\r]*)/i.exec(head)?.[1],
        body: text.slice(head.length + 4),
      });
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      timer ??= setTimeout(done, 300);
    });
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : reject(err)));
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: rackboot', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n' + (body ?? ''));
  });
}

/** A path the route matches: parameters filled with names that exist. */
function concrete(url: string): string {
  return url.replace(':name', 'cp-1').replace(':file', 'ipxe.efi').replace('*', 'x');
}

/** Spellings of `path` the router might treat as the same route. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const out = new Set<string>([path]);
  segments.forEach((seg, i) => {
    if (!seg) return;
    const code = seg.charCodeAt(0).toString(16);
    const swap = (s: string) => '/' + segments.map((x, j) => (j === i ? s : x)).join('/');
    out.add(swap(`%${code}${seg.slice(1)}`));
    out.add(swap(`%${code.toUpperCase()}${seg.slice(1)}`));
    out.add(swap(seg.split('').map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')));
    out.add(swap(seg.toUpperCase()));
  });
  out.add(path.toUpperCase());
  out.add(path + '/');
  out.add('/' + path);
  out.add(path.replace(/\/([^/]*)$/, '//$1'));
  out.add('/.' + path);
  out.add('/x/..' + path);
  out.add('/%2e' + path);
  out.add('/login/..' + path);
  out.add('/healthz/..' + path);
  out.add('/ui/static/..' + path.replace(/^\/ui\/static/, ''));
  out.add(path + '?next=/login');
  out.add(path + '#/login');
  out.add(path + '%3F/login');
  out.add(path + '/.');
  out.add(path + ';/login');
  return [...out];
}

function refused(a: Answer): boolean {
  const redirectedToLogin = a.status === 303 && (a.location ?? '').startsWith('/login');
  return ([400, 401, 403, 404, 429].includes(a.status) || redirectedToLogin) && !a.body.includes(SECRET);
}

const methodsFor = (r: RouteRecord) => [r.method];
const bodyFor = (method: string) => (method === 'POST' ? '{}' : undefined);

describe('route access', () => {
  it('every route on both planes declares its access, and the boot plane has only public routes', () => {
    const admin = registeredRoutes(h.app);
    const boot = registeredRoutes(h.boot);
    expect(admin.length).toBeGreaterThan(15);
    expect(boot.length).toBeGreaterThan(5);
    for (const r of [...admin, ...boot]) expect(r.access, `${r.method} ${r.url}`).toMatch(/^(public|admin|admin-secret|metrics)$/);
    expect(boot.filter((r) => r.access !== 'public')).toEqual([]);
    // The machines' endpoints and the login form are public; nothing else on the admin plane is.
    expect(admin.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'GET /favicon.ico', 'GET /favicon.svg', 'GET /healthz', 'GET /login', 'GET /ui/static/app.js', 'GET /ui/static/style.css',
      'HEAD /favicon.ico', 'HEAD /favicon.svg', 'HEAD /healthz', 'HEAD /login', 'HEAD /ui/static/app.js', 'HEAD /ui/static/style.css', 'POST /login',
    ]);
    expect(admin.filter((r) => r.access === 'admin-secret').map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'GET /api/cluster/kubeconfig', 'GET /api/cluster/talosconfig', 'HEAD /api/cluster/kubeconfig', 'HEAD /api/cluster/talosconfig',
    ]);
    expect(admin.filter((r) => r.access === 'metrics').map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /metrics', 'HEAD /metrics']);
  });

  it('the scrape token (DATA/metrics-token) opens /metrics, under every spelling, and no other route', async () => {
    const scrape = { authorization: `Bearer ${SCRAPE_TOKEN}` };
    for (const target of spellings('/metrics')) {
      const a = await send('admin', 'GET', target, scrape);
      if (a.status === 404) continue; // a spelling the router does not map to the route
      expect(a.status, target).toBe(200);
      expect(a.body).toContain('rackboot_nodes{state=');
    }
    expect((await send('admin', 'GET', '/metrics', scrape)).status).toBe(200);
    for (const r of registeredRoutes(h.app).filter((x) => x.access !== 'public' && x.access !== 'metrics')) {
      const a = await send('admin', r.method, concrete(r.url), scrape, bodyFor(r.method));
      expect(refused(a), `${r.method} ${r.url} answered ${a.status} to the scrape token`).toBe(true);
    }
    // The admin token still opens it; no token, or a wrong one, does not.
    expect((await send('admin', 'GET', '/metrics', { authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
    expect((await send('admin', 'GET', '/metrics', {})).status).toBe(401);
    expect((await send('admin', 'GET', '/metrics', { authorization: `Bearer ${SCRAPE_TOKEN}x` })).status).toBe(401);
  });

  it('the real token opens every admin route (no 401, 403 or 429)', async () => {
    for (const r of registeredRoutes(h.app).filter((x) => x.access !== 'public')) {
      const a = await send('admin', r.method, concrete(r.url), { authorization: `Bearer ${ADMIN_TOKEN}` }, bodyFor(r.method));
      expect([401, 403, 429, 0], `${r.method} ${r.url} answered ${a.status}`).not.toContain(a.status);
    }
    const secret = await send('admin', 'GET', '/api/cluster/talosconfig', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(secret.status).toBe(200);
    expect(secret.body).toContain(SECRET);
  });

  it('no credentials, a wrong token, or a session without CSRF: refused under every spelling', async () => {
    const tried: string[] = [];
    for (const r of registeredRoutes(h.app).filter((x) => x.access !== 'public')) {
      for (const target of spellings(concrete(r.url))) {
        for (const method of methodsFor(r)) {
          const variants: [string, Record<string, string>][] = [
            ['anonymous', {}],
            ['wrong token', { authorization: 'Bearer not-the-admin-token-at-all' }],
            ['wrong token in a cookie', { cookie: 'rackboot_session=forged' }],
          ];
          if (method !== 'GET' && method !== 'HEAD') variants.push(['session without CSRF', { cookie: session.cookie }]);
          for (const [label, headers] of variants) {
            const a = await send('admin', method, target, headers, bodyFor(method));
            tried.push(`${method} ${target}`);
            expect(refused(a), `${label}: ${method} ${target} answered ${a.status}`).toBe(true);
          }
        }
      }
    }
    expect(tried).toContain('GET /%61pi/cluster/talosconfig');
    expect(tried).toContain('HEAD /api/%6eodes');
    expect(tried).toContain('POST /%61pi/nodes/cp-1/reimage');
  }, 120_000);

  it('a session with its CSRF token may change state, and the /%61pi spelling is the same route to the router', async () => {
    const a = await send('admin', 'POST', '/%61pi/nodes/nope/reimage', { cookie: session.cookie, 'x-csrf-token': session.csrf }, '{}');
    expect(a.status).toBe(404);
    expect(a.body).toContain('no such node');
  });

  it('the boot plane answers no admin route under any spelling, even with the token', async () => {
    for (const r of registeredRoutes(h.app).filter((x) => x.access !== 'public')) {
      for (const target of spellings(concrete(r.url))) {
        const a = await send('boot', r.method, target, { authorization: `Bearer ${ADMIN_TOKEN}` }, bodyFor(r.method));
        expect(a.status, `${r.method} ${target}`).toBe(404);
        expect(a.body).not.toContain(SECRET);
      }
    }
  }, 60_000);

  it('with the token, what the router maps to a route: percent-escapes, query and fragment do; case, slashes and dot segments do not', async () => {
    const status = async (target: string) => (await send('admin', 'GET', target, { authorization: `Bearer ${ADMIN_TOKEN}` })).status;
    // These reach the handler, so only the guard (not the router) keeps the anonymous out.
    for (const t of ['/%61pi/nodes', '/api/%6eodes', '/%61%70%69/%6E%6F%64%65%73', '/api/nodes?x=/login', '/api/nodes#/login']) expect(await status(t), t).toBe(200);
    // The router is case-sensitive and forgives no extra slash or dot segment: these are 404 for everyone.
    for (const t of ['/API/nodes', '/api/NODES', '/api/nodes/', '//api/nodes', '/api//nodes', '/./api/nodes', '/x/../api/nodes', '/%2e/api/nodes', '/api%2Fnodes']) expect(await status(t), t).toBe(404);
  });

  it('a route that declares no access is refused to everyone, the admin included', async () => {
    const app = Fastify();
    installAccessGuard(app, { allowAnonymousRead: true, identify: () => ({ via: 'bearer' }), retryAfterSeconds: () => 1, holdThrottled: async () => {} });
    app.get('/forgotten', async () => ({ leaked: true }));
    app.get('/declared', ADMIN, async () => ({ ok: true }));
    try {
      expect(registeredRoutes(app).find((r) => r.url === '/forgotten')?.access).toBeUndefined();
      const res = await app.inject({ url: '/forgotten' });
      expect(res.statusCode).toBe(403);
      expect(res.body).not.toContain('leaked');
      expect((await app.inject({ url: '/declared' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('not found stays 404 and carries no data', async () => {
    const a = await send('admin', 'GET', '/api/nope', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(a.status).toBe(404);
    expect(JSON.parse(a.body)).toEqual({ message: 'no such endpoint: GET /api/nope' });
  });
});
