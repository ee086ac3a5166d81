// Who may call a route is declared on the route itself and decided on the
// route the router chose, never on the URL text: the router decodes
// percent-escapes (and may be told to forgive slashes or case), so any
// check of the raw URL disagrees with it on some spelling. A route that
// declares nothing is refused to everyone.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * public: the machines' boot plane, /healthz and the login form.
 * admin: the admin token or a session; `http.allowAnonymousRead` may open GET/HEAD.
 * admin-secret: like admin, but anonymous read never applies (cluster credentials).
 * metrics: like admin, and a GET with the scrape token passes too; that token opens nothing else.
 */
export type Access = 'public' | 'admin' | 'admin-secret' | 'metrics';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** An admin page: an anonymous browser is sent to /login rather than given a 401. */
    loginRedirect?: boolean;
  }
}

export const PUBLIC = { config: { access: 'public' as Access } };
export const ADMIN = { config: { access: 'admin' as Access } };
export const ADMIN_SECRET = { config: { access: 'admin-secret' as Access } };
export const METRICS = { config: { access: 'metrics' as Access } };
export const ADMIN_PAGE = { config: { access: 'admin' as Access, loginRedirect: true } };

export interface AdminAccess {
  via: 'session' | 'bearer' | 'anonymous' | 'scrape';
  csrf?: string;
  /** For a session: the start of its id's SHA-256 (the store's key for it), never the id itself. */
  sessionTag?: string;
}

/**
 * Who did it, for the events an admin request records: "token" for the
 * admin token, "session:<tag>" for a login session, "anonymous" for an
 * open read (which cannot change anything, so should never be recorded).
 */
export function actorOf(who: AdminAccess): string {
  return who.via === 'bearer' ? 'token' : who.via === 'session' ? `session:${who.sessionTag ?? '?'}` : 'anonymous';
}

/** How the admin plane recognises the admin; the boot plane has none. */
export interface AdminGate {
  readonly allowAnonymousRead: boolean;
  /** Undefined: no or wrong credentials. 'throttled': wrong, and the failure budget is spent. */
  identify(req: FastifyRequest): AdminAccess | 'throttled' | undefined;
  /** True when the request carries the scrape token (`metrics` routes only). */
  isScrapeToken?(req: FastifyRequest): boolean;
  /** Seconds a throttled client should wait. */
  retryAfterSeconds(): number;
  /** Resolves when a throttled answer may go out (a held answer slows a flood to a trickle). */
  holdThrottled(): Promise<void>;
}

export interface RouteRecord {
  method: string;
  url: string;
  access: Access | undefined;
}

const granted = new WeakMap<FastifyRequest, AdminAccess>();
const routeLists = new WeakMap<FastifyInstance, RouteRecord[]>();

/** Who is asking, once the guard has let the request through. */
export function adminAccess(req: FastifyRequest): AdminAccess {
  return granted.get(req) ?? { via: 'anonymous' };
}

/** Every route registered on `app` after the guard was installed (HEAD twins included). */
export function registeredRoutes(app: FastifyInstance): readonly RouteRecord[] {
  return routeLists.get(app) ?? [];
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Installs the guard on `app`; call it before registering any route. Without
 * a gate (the boot plane) every non-public route is refused. Identity is
 * checked onRequest, after routing and before the body is read, so an
 * anonymous client cannot make us buffer and parse a body; the CSRF token
 * may travel in the body, so it is checked once the body is parsed.
 */
export function installAccessGuard(app: FastifyInstance, gate?: AdminGate): void {
  const list: RouteRecord[] = [];
  routeLists.set(app, list);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) list.push({ method, url: route.url, access: route.config?.access });
  });

  app.addHook('onRequest', async (req, reply) => {
    // No route matched: the not-found handler answers, with nothing in it.
    if (req.is404) return;
    const { access, loginRedirect } = req.routeOptions.config;
    if (access === 'public') return;
    if (access !== 'admin' && access !== 'admin-secret' && access !== 'metrics') {
      req.log.error({ route: req.routeOptions.url, method: req.method }, 'route declares no access rule; refused');
      return reply.code(403).send({ message: 'this endpoint declares no access rule' });
    }
    if (!gate) return reply.code(403).send({ message: 'admin endpoints are not served on this listener' });
    const reading = req.method === 'GET' || req.method === 'HEAD';
    // Checked first, so a scraper's token is never counted as a wrong admin token.
    if (access === 'metrics' && reading && gate.isScrapeToken?.(req)) {
      granted.set(req, { via: 'scrape' });
      return;
    }
    const who = gate.identify(req);
    if (who === 'throttled') {
      await gate.holdThrottled();
      return reply.code(429).header('retry-after', String(gate.retryAfterSeconds())).send({ message: 'too many wrong admin tokens; wait and try again' });
    }
    if (!who) {
      if (reading && gate.allowAnonymousRead && (access === 'admin' || access === 'metrics')) {
        granted.set(req, { via: 'anonymous' });
        return;
      }
      if (reading && loginRedirect) return reply.redirect(`/login?next=${encodeURIComponent(req.url.split('?')[0]!)}`, 303);
      return reply.code(401).header('www-authenticate', 'Bearer realm="rackboot"').send({ message: 'log in first (or send Authorization: Bearer <admin token>)' });
    }
    granted.set(req, who);
  });

  app.addHook('preHandler', async (req, reply) => {
    const who = granted.get(req);
    if (!who || who.via !== 'session' || req.method === 'GET' || req.method === 'HEAD') return;
    const sent = req.headers['x-csrf-token'] ?? (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof sent !== 'string' || !sameSecret(sent, who.csrf!)) return reply.code(403).send({ message: 'missing or wrong CSRF token' });
  });
}
