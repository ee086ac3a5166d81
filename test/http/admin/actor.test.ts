// Who did what: events from the admin plane name the credential that asked
// (the admin token, or which login session), and the node page shows it.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness, login, sessionActor } from './harness.js';

describe('actor in events', () => {
  it('a reimage by token and a cancel by session are recorded as such and shown on the node page', async () => {
    const h = await harness();
    try {
      h.store.setState('w-1', 'ready', 'setup', { markedForInstall: false });
      const byToken = await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { reason: 'disk swap' } });
      expect(byToken.statusCode).toBe(200);
      const { cookie, csrf } = await login(h.app);
      const bySession = await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/reimage/cancel', headers: { cookie, 'x-csrf-token': csrf }, payload: {} });
      expect(bySession.statusCode).toBe(200);
      const who = sessionActor(h);
      expect(who).toMatch(/^session:[0-9a-f]{8}$/);
      // The tag is not the cookie: the session's id never reaches the event log.
      expect(cookie).not.toContain(who.slice(8));
      const reimages = h.store.events({ node: 'w-1' }).filter((e) => e.kind === 'reimage').map((e) => (e.data as { by: string }).by);
      expect(reimages).toEqual(['token', who]);
      expect(h.store.getNode('w-1')!.stateReason).toBe(`reimage cancelled by ${who}`);
      const page = await h.app.inject({ url: '/ui/nodes/w-1', headers: { cookie } });
      expect(page.body).toContain(`<span class="badge actor" data-actor="token">by token</span>`);
      expect(page.body).toContain(`<span class="badge actor" data-actor="${who}">by ${who}</span>`);
    } finally {
      await h.close();
    }
  });

  it('serves an icon on the open plane, so a page load makes no 404', async () => {
    const h = await harness();
    try {
      for (const url of ['/favicon.svg', '/favicon.ico']) {
        const res = await h.app.inject(url);
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-type']).toBe('image/svg+xml');
        expect(res.body).toMatch(/^<svg /);
      }
      const { cookie } = await login(h.app);
      expect((await h.app.inject({ url: '/ui', headers: { cookie } })).body).toContain('<link rel="icon" href="/favicon.svg" type="image/svg+xml">');
    } finally {
      await h.close();
    }
  });
});
