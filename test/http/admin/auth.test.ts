import { randomBytes, scryptSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, login } from './harness.js';
import { FailureBudget } from '../../../src/http/admin/failure-budget.js';

describe('admin auth', () => {
  it('guards the admin surface and leaves the machines\' endpoints open', async () => {
    const h = await harness();
    try {
      for (const url of ['/api/nodes', '/api/events', '/api/inventory', '/api/discovered', '/api/cluster', '/metrics', '/api/stream']) {
        expect((await h.app.inject({ url })).statusCode, url).toBe(401);
      }
      const ui = await h.app.inject({ url: '/ui/nodes/cp-1' });
      expect(ui.statusCode).toBe(303);
      expect(ui.headers.location).toBe('/login?next=%2Fui%2Fnodes%2Fcp-1');
      expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await h.boot.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await h.boot.inject({ url: '/boot.ipxe' })).statusCode).toBe(200);
      expect((await h.boot.inject({ url: '/ipxe?mac=52:54:00:00:00:99' })).statusCode).toBe(200);
      // The boot plane carries no admin route at all, with or without the token.
      for (const url of ['/api/nodes', '/metrics', '/ui', '/login', '/api/cluster/talosconfig']) {
        expect((await h.boot.inject({ url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode, url).toBe(404);
      }
      expect((await h.app.inject({ url: '/login' })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/ui/static/app.js' })).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('logs in with the token into an HttpOnly, SameSite=Strict session cookie', async () => {
    const h = await harness();
    try {
      const bad = await h.app.inject({ method: 'POST', url: '/login', payload: 'token=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(bad.statusCode).toBe(401);
      expect(bad.headers['set-cookie']).toBeUndefined();
      const ok = await h.app.inject({ method: 'POST', url: '/login', payload: `token=${ADMIN_TOKEN}&next=//evil.example/x`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(ok.statusCode).toBe(303);
      expect(ok.headers.location).toBe('/ui');
      const cookie = String(ok.headers['set-cookie']);
      expect(cookie).toMatch(/^rackboot_session=[A-Za-z0-9_-]{40,}; /);
      expect(cookie).toContain('HttpOnly');
      expect(cookie).toContain('SameSite=Strict');
      expect(cookie).toContain('Path=/');
      const session = cookie.split(';')[0]!;
      expect((await h.app.inject({ url: '/api/nodes', headers: { cookie: session } })).statusCode).toBe(200);
      // The database keeps only a hash of the session id.
      const ids = (h.store.db.prepare('SELECT id_hash FROM admin_sessions').all() as { id_hash: string }[]).map((r) => r.id_hash);
      expect(ids).toHaveLength(1);
      expect(ids[0]).not.toBe(session.split('=')[1]);
    } finally {
      await h.close();
    }
  });

  it('requires the session\'s CSRF token on state-changing requests', async () => {
    const h = await harness();
    try {
      const { cookie, csrf } = await login(h.app);
      expect(csrf.length).toBeGreaterThan(20);
      const url = '/api/nodes/w-1/reimage';
      const none = await h.app.inject({ method: 'POST', url, headers: { cookie }, payload: {} });
      expect(none.statusCode).toBe(403);
      const wrong = await h.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': csrf.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) }, payload: {} });
      expect(wrong.statusCode).toBe(403);
      expect(h.store.getNode('w-1')!.state).toBe('registered');
      const right = await h.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': csrf }, payload: { reason: 'test' } });
      expect(right.statusCode).toBe(200);
      expect(h.store.getNode('w-1')!.state).toBe('reimage-pending');
      // Without a session there is nothing to forge, and no way in.
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage/cancel', headers: { 'x-csrf-token': csrf } })).statusCode).toBe(401);
      // A bearer token is not an ambient credential: no CSRF needed.
      const bearer = await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage/cancel', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(bearer.statusCode).toBe(200);
      expect((await h.app.inject({ url: '/api/nodes', headers: { authorization: 'Bearer nope-nope-nope-nope' } })).statusCode).toBe(401);
      // Logging out ends the session.
      expect((await h.app.inject({ method: 'POST', url: '/logout', headers: { cookie, 'x-csrf-token': csrf } })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/api/nodes', headers: { cookie } })).statusCode).toBe(401);
    } finally {
      await h.close();
    }
  });

  it('wrong tokens spend one budget for every address; the right token always passes', async () => {
    // The default burst of 20, refilled slowly enough that the held answers below do not refill it.
    const h = await harness({ budget: new FailureBudget(20, 0.01) });
    try {
      const attempt = (token: string, remoteAddress: string) =>
        h.app.inject({ method: 'POST', url: '/login', remoteAddress, payload: `token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const bearer = (token: string, remoteAddress: string) => h.app.inject({ url: '/api/nodes', remoteAddress, headers: { authorization: `Bearer ${token}` } });
      // Bearer and login draw on the same budget; a new source address buys nothing.
      for (let i = 0; i < 10; i++) expect((await attempt('guess-' + i, `10.0.0.${i + 1}`)).statusCode).toBe(401);
      for (let i = 0; i < 10; i++) expect((await bearer('guess-' + i, `10.0.1.${i + 1}`)).statusCode).toBe(401);
      const t0 = Date.now();
      const throttled = await attempt('guess-x', '10.0.2.1');
      expect(throttled.statusCode).toBe(429);
      // A throttled answer is held, so a flooding connection gets about one guess a second.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(throttled.headers['set-cookie']).toBeUndefined();
      expect((await bearer('guess-y', '10.0.2.2')).statusCode).toBe(429);
      // …while the operator, from the very address that typed wrong, still gets in.
      const ok = await attempt(ADMIN_TOKEN, '10.0.0.1');
      expect(ok.statusCode).toBe(303);
      expect(String(ok.headers['set-cookie'])).toContain('rackboot_session=');
      expect((await bearer(ADMIN_TOKEN, '10.0.1.1')).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('a store from before keyed hashes: the scrypt hash still opens once, then is replaced by the keyed one', async () => {
    const first = await harness({ token: null });
    const dir = first.dir;
    const token = 'legacy-generated-token-0123456789';
    const salt = randomBytes(16);
    const legacy = `scrypt$${salt.toString('hex')}$${scryptSync(token, salt, 32).toString('hex')}`;
    first.store.db.prepare('UPDATE admin_token SET hash=? WHERE id=1').run(legacy);
    await first.close({ keepDir: true });
    const again = await harness({ token: null, dir });
    try {
      expect(again.announced).toEqual([]);
      expect((await again.app.inject({ url: '/api/nodes', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(401);
      expect((again.store.db.prepare('SELECT hash FROM admin_token').get() as { hash: string }).hash).toBe(legacy);
      await login(again.app, token);
      const stored = (again.store.db.prepare('SELECT hash FROM admin_token').get() as { hash: string }).hash;
      expect(stored).toMatch(/^hmac-sha256\$[0-9a-f]{64}\$[0-9a-f]{64}$/);
      expect((await again.app.inject({ url: '/api/nodes', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('anonymous read only when the settings allow it, and never the credentials', async () => {
    const h = await harness({ anonymousRead: true });
    try {
      expect((await h.app.inject({ url: '/api/nodes' })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/ui' })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/metrics' })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/api/cluster/kubeconfig' })).statusCode).toBe(401);
      expect((await h.app.inject({ url: '/api/cluster/talosconfig' })).statusCode).toBe(401);
      expect((await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage', payload: {} })).statusCode).toBe(401);
    } finally {
      await h.close();
    }
  });

  it('generates a token at first start, shows it once, and stores only its hash', async () => {
    const first = await harness({ token: null });
    const dir = first.dir;
    let token: string;
    try {
      expect(first.announced).toHaveLength(1);
      token = /: (\S+)$/.exec(first.announced[0]!)![1]!;
      const stored = first.store.db.prepare('SELECT hash, source FROM admin_token').get() as { hash: string; source: string };
      expect(stored.source).toBe('generated');
      expect(stored.hash).toMatch(/^hmac-sha256\$[0-9a-f]{64}\$[0-9a-f]{64}$/);
      expect(stored.hash).not.toContain(token);
      await login(first.app, token);
    } finally {
      await first.close({ keepDir: true });
    }
    const again = await harness({ token: null, dir });
    try {
      expect(again.announced).toEqual([]);
      await login(again.app, token);
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
