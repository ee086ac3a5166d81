// The admin page: /ui (overview), /ui/nodes/:name, /login, /logout and the
// static script and stylesheet. Each route declares its access (../access.ts).
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { ADMIN, ADMIN_PAGE, PUBLIC } from '../access.js';
import { AdminAuth, adminAccess, ensureAdminToken } from './auth.js';
import { loginPage, nodePage, overviewPage, type OverviewData } from './pages.js';
import { APP_JS, STYLE_CSS } from './static.js';
import { metricsScrapeToken } from './metrics.js';
import { assetsView, clusterView, discoveredListView, inventoryView, nodeDetailView, nodesView, powerLookup } from './views.js';

// The page runs only our own script and styles; nothing inline, nothing remote.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function overviewData(ctx: HttpContext): OverviewData {
  return {
    nodes: nodesView(ctx.store, powerLookup(ctx)), inventory: inventoryView(ctx), cluster: clusterView(ctx),
    assets: assetsView(ctx), discovered: discoveredListView(ctx.store),
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
    return page(reply).send(overviewPage(overviewData(ctx), { csrf: who.csrf, signedIn: who.via === 'session' }));
  });
  app.get('/ui/nodes/:name', ADMIN_PAGE, async (req, reply) => {
    const d = nodeDetailView(ctx, (req.params as { name: string }).name);
    if (!d) return reply.code(404).send({ message: 'no such node' });
    const who = adminAccess(req);
    return page(reply).send(nodePage(d.node, d.events, d.console, { csrf: who.csrf, signedIn: who.via === 'session' }));
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

  app.get('/ui/static/app.js', PUBLIC, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(APP_JS));
  app.get('/ui/static/style.css', PUBLIC, async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE_CSS));
}
