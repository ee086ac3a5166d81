// The admin page: /ui (overview), /ui/nodes/:name, /login, /logout and the
// static script and stylesheet. Each route declares its access (../access.ts).
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { ADMIN, ADMIN_PAGE, PUBLIC } from '../access.js';
import { AdminAuth, adminAccess, ensureAdminToken } from './auth.js';
import { loginPage, nodePage, overviewPage, type OverviewData } from './pages.js';
import { APP_JS, FAVICON_SVG, STYLE_CSS } from './static.js';
import { rolloutView } from './rollout.js';
import { assetsView, clusterView, discoveredListView, inventoryView, nodeDetailView, powerLookup } from './views.js';
import { nodeListing, parseNodeQuery, type NodeQuery } from './overview.js';
import { day2Panel } from './day2-panel.js';
import { appliedConfigFor } from '../../day2/applied.js';
import { metricsScrapeToken } from './metrics.js';

// The page runs only our own script and styles; nothing inline, nothing remote.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Unknown machines listed on the overview; the API and `rackboot discovered` give all of them. */
export const DISCOVERED_ON_PAGE = 50;

export function overviewData(ctx: HttpContext, query: NodeQuery = { page: 1, pageSize: 50 }): OverviewData {
  return {
    nodes: nodeListing(ctx.store, query, powerLookup(ctx)), inventory: inventoryView(ctx), cluster: clusterView(ctx),
    assets: assetsView(ctx), discovered: discoveredListView(ctx.store, DISCOVERED_ON_PAGE),
    rollout: rolloutView(ctx.store),
  };
}

/** Only same-site paths under the page may be a post-login target. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui(\/[^\s\\]*)?$/.test(next) && !next.startsWith('//') ? next : '/ui';
}

/** The admin's recogniser for this store; makes the admin token first if there is none. */
export function adminAuth(ctx: HttpContext, opts: ConstructorParameters<typeof AdminAuth>[2]): AdminAuth {
  ensureAdminToken(ctx.store, ctx.settings.adminToken, ctx.announce ?? ((l) => process.stderr.write(l + '\n')));
  return new AdminAuth(ctx.store, ctx.settings.http.allowAnonymousRead, { scrapeToken: () => metricsScrapeToken(ctx.settings), ...opts });
}

export function registerWeb(app: FastifyInstance, ctx: HttpContext, auth: AdminAuth): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const page = (reply: import('fastify').FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff');

  app.get('/', ADMIN_PAGE, async (_req, reply) => reply.redirect('/ui', 303));
  app.get('/ui', ADMIN_PAGE, async (req, reply) => {
    const who = adminAccess(req);
    const q = parseNodeQuery(req.query as Record<string, unknown>);
    if (!q.ok) return reply.code(400).send({ message: q.error });
    return page(reply).send(overviewPage(overviewData(ctx, q.query), { csrf: who.csrf, signedIn: who.via === 'session' }));
  });
  app.get('/ui/nodes/:name', ADMIN_PAGE, async (req, reply) => {
    const d = nodeDetailView(ctx, (req.params as { name: string }).name);
    if (!d) return reply.code(404).send({ message: 'no such node' });
    const who = adminAccess(req);
    return page(reply).send(nodePage(d, { csrf: who.csrf, signedIn: who.via === 'session', day2: day2Panel(d.node.name, appliedConfigFor(ctx.store, d.node.name)) }));
  });

  app.get('/login', PUBLIC, async (req, reply) => page(reply).send(loginPage({ next: safeNext((req.query as Record<string, unknown>).next) })));
  app.post('/login', PUBLIC, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const check = typeof body.token === 'string' ? auth.login(body.token, reply) : auth.checkToken('');
    if (check === 'ok') return reply.redirect(next, 303);
    req.log.warn({ throttled: check === 'throttled' }, 'admin login failed');
    if (check === 'throttled') {
      await auth.holdThrottled();
      return page(reply).code(429).header('retry-after', String(auth.retryAfterSeconds())).send(loginPage({ next, error: 'Too many wrong tokens were tried; wait a few seconds. The right token is never refused.' }));
    }
    return page(reply).code(401).send(loginPage({ next, error: 'That token is not right.' }));
  });
  app.post('/logout', ADMIN, async (req, reply) => {
    auth.logout(req, reply);
    return { ok: true };
  });

  // Browsers ask for an icon on every page load; without one each load logged a 404.
  for (const url of ['/favicon.svg', '/favicon.ico']) {
    app.get(url, PUBLIC, async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(FAVICON_SVG));
  }
  app.get('/ui/static/app.js', PUBLIC, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(APP_JS));
  app.get('/ui/static/style.css', PUBLIC, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE_CSS));
}
