// Admin authentication for the page and the JSON API. One admin token
// (from the settings, or generated at first start and printed once) is
// exchanged at /login for a session cookie (HttpOnly, SameSite=Strict).
// State-changing requests carry the session's CSRF token. Scripts may send
// the token as a Bearer header instead: no ambient credential, so no CSRF.
// Machines' endpoints (/ipxe, /assets, /config, …) stay open: only the admin
// surface below is guarded.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminRepository, hashToken, verifyToken } from '../../store/admin.js';
import type { Store } from '../../store/store.js';

export const SESSION_COOKIE = 'rackboot_session';
const SESSION_TTL_MS = 12 * 3600_000;

export interface AdminAccess {
  via: 'session' | 'bearer' | 'anonymous';
  csrf?: string;
}

const access = new WeakMap<FastifyRequest, AdminAccess>();

/** Who is asking, once the guard has let the request through. */
export function adminAccess(req: FastifyRequest): AdminAccess {
  return access.get(req) ?? { via: 'anonymous' };
}

/**
 * Makes sure an admin token exists. A token in the settings wins (and
 * replaces a generated one); otherwise one is generated once and returned
 * (the daemon files it, see data-dir.ts), and passed to `announce` if given.
 */
export function ensureAdminToken(store: Store, settingsToken: string | undefined, announce?: (line: string) => void): string | undefined {
  const repo = new AdminRepository(store);
  const current = repo.tokenHash();
  if (settingsToken) {
    if (!current || !verifyToken(settingsToken, current.hash)) repo.setTokenHash(hashToken(settingsToken), 'settings');
    return undefined;
  }
  if (current) return undefined;
  const token = randomBytes(24).toString('base64url');
  repo.setTokenHash(hashToken(token), 'generated');
  announce?.(`rackboot: generated admin token (shown once, store it now): ${token}`);
  return token;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch { /* a malformed cookie is no cookie */ }
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Paths the guard protects; everything else belongs to the machines. */
export function isAdminPath(path: string): boolean {
  return path === '/' || path === '/metrics' || path === '/logout' || path.startsWith('/api/') || path === '/ui' || (path.startsWith('/ui/') && !path.startsWith('/ui/static/'));
}

/** Downloads that carry cluster credentials: never anonymous. */
function isSecretPath(path: string): boolean {
  return path === '/api/cluster/kubeconfig' || path === '/api/cluster/talosconfig';
}

/** Failed logins allowed per address in a window before it must wait. */
const LOGIN_FAILURES = 5;
const LOGIN_WINDOW_MS = 10 * 60_000;

export class AdminAuth {
  readonly repo: AdminRepository;
  private bearerCache: { token: string; hash: string } | undefined;
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    store: Store,
    private readonly allowAnonymousRead: boolean,
  ) {
    this.repo = new AdminRepository(store);
  }

  checkToken(token: string): boolean {
    const stored = this.repo.tokenHash();
    if (!stored) return false;
    // scrypt is slow on purpose; remember the last good bearer token for this hash.
    if (this.bearerCache && this.bearerCache.hash === stored.hash && sameSecret(this.bearerCache.token, token)) return true;
    const ok = verifyToken(token, stored.hash);
    if (ok) this.bearerCache = { token, hash: stored.hash };
    return ok;
  }

  /** True while `address` has used up its failed logins for the window. */
  loginBlocked(address: string, now = Date.now()): boolean {
    const f = this.failures.get(address);
    if (f && now - f.since > LOGIN_WINDOW_MS) this.failures.delete(address);
    return (this.failures.get(address)?.count ?? 0) >= LOGIN_FAILURES;
  }

  login(token: string, reply: FastifyReply, address: string): boolean {
    if (!this.checkToken(token)) {
      const f = this.failures.get(address) ?? { count: 0, since: Date.now() };
      f.count++;
      this.failures.set(address, f);
      // Bounded: a flood from many addresses forgets the oldest first.
      if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
      return false;
    }
    this.failures.delete(address);
    const { id } = this.repo.createSession(SESSION_TTL_MS);
    reply.header('set-cookie', `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`);
    return true;
  }

  logout(req: FastifyRequest, reply: FastifyReply): void {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (id) this.repo.deleteSession(id);
    reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
  }

  private identify(req: FastifyRequest): AdminAccess | undefined {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return this.checkToken(auth.slice(7).trim()) ? { via: 'bearer' } : undefined;
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const session = id ? this.repo.session(id) : undefined;
    return session ? { via: 'session', csrf: session.csrf } : undefined;
  }

  /**
   * The guard. Identity is checked onRequest, before the body is read, so an
   * anonymous client cannot make us buffer and parse a body at all; the CSRF
   * token may travel in the body, so it is checked once the body is parsed.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0]!;
      if (!isAdminPath(path)) return;
      const who = this.identify(req);
      const reading = req.method === 'GET' || req.method === 'HEAD';
      if (!who) {
        if (reading && this.allowAnonymousRead && !isSecretPath(path)) {
          access.set(req, { via: 'anonymous' });
          return;
        }
        if (reading && (path === '/' || path.startsWith('/ui'))) return reply.redirect(`/login?next=${encodeURIComponent(path)}`, 303);
        return reply.code(401).header('www-authenticate', 'Bearer realm="rackboot"').send({ message: 'log in first (or send Authorization: Bearer <admin token>)' });
      }
      access.set(req, who);
    });
    app.addHook('preHandler', async (req, reply) => {
      const who = access.get(req);
      if (!who || who.via !== 'session' || req.method === 'GET' || req.method === 'HEAD') return;
      const sent = req.headers['x-csrf-token'] ?? (req.body as Record<string, unknown> | undefined)?._csrf;
      if (typeof sent !== 'string' || !sameSecret(sent, who.csrf!)) return reply.code(403).send({ message: 'missing or wrong CSRF token' });
    });
  }
}
