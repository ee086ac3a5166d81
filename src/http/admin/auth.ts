// Admin authentication for the page and the JSON API. One admin token
// (from the settings, or generated at first start and printed once) is
// exchanged at /login for a session cookie (HttpOnly, SameSite=Strict).
// State-changing requests carry the session's CSRF token. Scripts may send
// the token as a Bearer header instead: no ambient credential, so no CSRF.
// Which routes need the admin is declared on each route (see ../access.ts);
// this file only recognises the admin.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminRepository, hashToken, isLegacyTokenHash, verifyToken } from '../../store/admin.js';
import type { Store } from '../../store/store.js';
import { adminAccess, type AdminAccess, type AdminGate } from '../access.js';
import { FailureBudget } from './failure-budget.js';

export { adminAccess, type AdminAccess };

export const SESSION_COOKIE = 'rackboot_session';
const SESSION_TTL_MS = 12 * 3600_000;
/** Hex digits of a session's id hash that name it in events: enough to tell sessions apart, useless as a credential. */
const SESSION_TAG_LENGTH = 8;
/** How long a throttled wrong token waits for its 429, and how many may wait at once. */
const THROTTLE_HOLD_MS = 1_000;
const MAX_HELD = 1_024;

/**
 * Makes sure an admin token exists. A token in the settings wins (and
 * replaces a generated one); otherwise one is generated once and returned
 * (the daemon files it, see data-dir.ts), and passed to `announce` if given.
 */
export function ensureAdminToken(store: Store, settingsToken: string | undefined, announce?: (line: string) => void): string | undefined {
  const repo = new AdminRepository(store);
  const current = repo.tokenHash();
  if (settingsToken) {
    // One scrypt at start for a store from before keyed hashes; same token, so sessions stay.
    if (current && verifyToken(settingsToken, current.hash)) {
      if (isLegacyTokenHash(current.hash)) repo.upgradeTokenHash(hashToken(settingsToken));
    } else repo.setTokenHash(hashToken(settingsToken), 'settings');
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

/** What checking a token found: right, wrong, or wrong once too often. */
export type TokenCheck = 'ok' | 'wrong' | 'throttled';

export class AdminAuth implements AdminGate {
  readonly repo: AdminRepository;
  private readonly budget: FailureBudget;
  private readonly cookieFlags: string;
  private readonly holdMs: number;
  private held = 0;

  private readonly scrapeToken: () => string | undefined;

  constructor(
    store: Store,
    readonly allowAnonymousRead: boolean,
    opts: { secureCookies?: boolean; budget?: FailureBudget; throttleHoldMs?: number; scrapeToken?: () => string | undefined } = {},
  ) {
    this.scrapeToken = opts.scrapeToken ?? (() => undefined);
    this.repo = new AdminRepository(store);
    this.budget = opts.budget ?? new FailureBudget();
    this.holdMs = opts.throttleHoldMs ?? THROTTLE_HOLD_MS;
    this.cookieFlags = `HttpOnly; SameSite=Strict; Path=/${opts.secureCookies ? '; Secure' : ''}`;
  }

  /**
   * The right token always passes. A wrong one spends the failure budget;
   * once it is spent, wrong tokens are answered 429 until it refills. A
   * legacy scrypt hash is only computed while the budget lasts, and is
   * replaced by the keyed hash on the first match.
   */
  checkToken(token: string): TokenCheck {
    const stored = this.repo.tokenHash();
    if (!stored) return this.budget.spend() ? 'wrong' : 'throttled';
    if (isLegacyTokenHash(stored.hash)) {
      if (!this.budget.available()) return 'throttled';
      if (verifyToken(token, stored.hash)) {
        this.repo.upgradeTokenHash(hashToken(token));
        return 'ok';
      }
    } else if (verifyToken(token, stored.hash)) return 'ok';
    return this.budget.spend() ? 'wrong' : 'throttled';
  }

  /** The scrape token, compared by digest so neither its length nor its bytes leak through timing. */
  isScrapeToken(req: FastifyRequest): boolean {
    const auth = req.headers.authorization;
    const want = this.scrapeToken();
    if (!want || !auth?.startsWith('Bearer ')) return false;
    const digest = (t: string) => createHash('sha256').update(t).digest();
    return timingSafeEqual(digest(auth.slice(7).trim()), digest(want));
  }

  retryAfterSeconds(): number {
    return Math.max(1, this.budget.retryAfterSeconds());
  }

  /**
   * Holds a throttled answer for a while: a flooding client on a keep-alive
   * connection then sends one guess a second instead of thousands, and a
   * held request costs only a timer. Past MAX_HELD answers go out at once,
   * so holding cannot grow memory without bound.
   */
  async holdThrottled(): Promise<void> {
    if (this.held >= MAX_HELD || this.holdMs <= 0) return;
    this.held++;
    try {
      await new Promise((r) => setTimeout(r, this.holdMs));
    } finally {
      this.held--;
    }
  }

  login(token: string, reply: FastifyReply): TokenCheck {
    const check = this.checkToken(token);
    if (check !== 'ok') return check;
    const { id } = this.repo.createSession(SESSION_TTL_MS);
    reply.header('set-cookie', `${SESSION_COOKIE}=${id}; ${this.cookieFlags}; Max-Age=${SESSION_TTL_MS / 1000}`);
    return 'ok';
  }

  logout(req: FastifyRequest, reply: FastifyReply): void {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (id) this.repo.deleteSession(id);
    reply.header('set-cookie', `${SESSION_COOKIE}=; ${this.cookieFlags}; Max-Age=0`);
  }

  identify(req: FastifyRequest): AdminAccess | 'throttled' | undefined {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const check = this.checkToken(auth.slice(7).trim());
      return check === 'ok' ? { via: 'bearer' } : check === 'throttled' ? 'throttled' : undefined;
    }
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const session = id ? this.repo.session(id) : undefined;
    return session ? { via: 'session', csrf: session.csrf, sessionTag: createHash('sha256').update(id!).digest('hex').slice(0, SESSION_TAG_LENGTH) } : undefined;
  }
}
