// Admin authentication records: the admin token is kept only as a salted
// scrypt hash, and sessions only by the SHA-256 of their cookie value, so
// a copy of the database logs nobody in.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Store } from './store.js';

export interface AdminSession {
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export function hashToken(token: string, salt = randomBytes(16)): string {
  return `scrypt$${salt.toString('hex')}$${scryptSync(token, salt, 32).toString('hex')}`;
}

export function verifyToken(token: string, stored: string): boolean {
  const [kind, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const want = Buffer.from(hash, 'hex');
  const got = scryptSync(token, Buffer.from(salt, 'hex'), want.length);
  return timingSafeEqual(want, got);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class AdminRepository {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  tokenHash(): { hash: string; source: string } | undefined {
    return this.store.db.prepare('SELECT hash, source FROM admin_token WHERE id=1').get() as { hash: string; source: string } | undefined;
  }

  setTokenHash(hash: string, source: 'settings' | 'generated'): void {
    this.store.db
      .prepare('INSERT INTO admin_token (id, hash, source, created_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET hash=excluded.hash, source=excluded.source, created_at=excluded.created_at')
      .run(hash, source, this.now());
    // A new token ends every session made with the old one.
    this.store.db.prepare('DELETE FROM admin_sessions').run();
  }

  /** Creates a session; returns the cookie value (kept nowhere but the cookie) and its CSRF token. */
  createSession(ttlMs: number): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = this.now();
    this.store.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(now);
    this.store.db.prepare('INSERT INTO admin_sessions (id_hash, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)').run(sha256(id), csrf, now, now + ttlMs);
    return { id, csrf };
  }

  session(id: string): AdminSession | undefined {
    const row = this.store.db.prepare('SELECT csrf, created_at, expires_at FROM admin_sessions WHERE id_hash=?').get(sha256(id)) as
      | { csrf: string; created_at: number; expires_at: number }
      | undefined;
    if (!row || row.expires_at <= this.now()) return undefined;
    return { csrf: row.csrf, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  deleteSession(id: string): void {
    this.store.db.prepare('DELETE FROM admin_sessions WHERE id_hash=?').run(sha256(id));
  }
}
