// Admin authentication records: the admin token is kept only as a keyed
// hash (HMAC-SHA-256 under a random key of its own), and sessions only by
// the SHA-256 of their cookie value, so a copy of the database logs nobody
// in. Tokens are long and random, so a fast keyed hash is enough, and a
// wrong token costs microseconds rather than a slow KDF on the event loop.
// Stores written before that hold a salted scrypt hash ("scrypt$..."): it
// is still verified (behind the failure budget) and replaced by the keyed
// hash the first time the right token is shown.
import { createHash, createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { adminTablesOf } from './pg/pg-admin.js';
import type { Store } from './store.js';
import type { AdminTables } from './admin-tables.js';

export interface AdminSession {
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

const HMAC = 'hmac-sha256';

export function hashToken(token: string, key = randomBytes(32)): string {
  return `${HMAC}$${key.toString('hex')}$${createHmac('sha256', key).update(token).digest('hex')}`;
}

/** True when `stored` is a hash from before the keyed one (slow to check). */
export function isLegacyTokenHash(stored: string): boolean {
  return stored.startsWith('scrypt$');
}

/** Checks a token against a stored hash of either kind; constant-time compare. */
export function verifyToken(token: string, stored: string): boolean {
  const [kind, key, hash] = stored.split('$');
  if (!key || !hash) return false;
  const want = Buffer.from(hash, 'hex');
  let got: Buffer;
  if (kind === HMAC) got = createHmac('sha256', Buffer.from(key, 'hex')).update(token).digest();
  else if (kind === 'scrypt') got = scryptSync(token, Buffer.from(key, 'hex'), want.length);
  else return false;
  return got.length === want.length && timingSafeEqual(want, got);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class AdminRepository {
  /** With scaleOut.postgres, the shared database's: logged in on one appliance's page is logged in on all, a revocation ends it on all. */
  private readonly tables: AdminTables;

  constructor(
    store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.tables = adminTablesOf(store);
  }

  tokenHash(): { hash: string; source: string } | undefined {
    return this.tables.tokenHash();
  }

  setTokenHash(hash: string, source: 'settings' | 'generated'): void {
    // A new token ends every session made with the old one.
    this.tables.setTokenHash(hash, source, this.now());
  }

  /** Replaces the stored hash of the same token (a legacy hash's upgrade): sessions stay. */
  upgradeTokenHash(hash: string): void {
    this.tables.upgradeTokenHash(hash);
  }

  /** Creates a session; returns the cookie value (kept nowhere but the cookie) and its CSRF token. */
  createSession(ttlMs: number): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = this.now();
    this.tables.addSession(sha256(id), csrf, now, now + ttlMs);
    return { id, csrf };
  }

  session(id: string): AdminSession | undefined {
    const row = this.tables.session(sha256(id));
    if (!row || row.expires_at <= this.now()) return undefined;
    return { csrf: row.csrf, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  deleteSession(id: string): void {
    this.tables.deleteSession(sha256(id));
  }
}
