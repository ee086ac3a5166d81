// The admin token's and sessions' rows in the appliance's own SQLite (the
// embedded default), and the interface PostgreSQL's twin (pg/pg-admin.ts)
// implements. Apart from admin.ts so that neither imports the other: admin.ts
// picks the tables through pg-admin.ts, which needs only these.
import type { Store } from './store.js';

/** The two admin tables' rows, where the store keeps them (SQLite here, the shared database in pg/pg-admin.ts). */
export interface AdminTables {
  tokenHash(): { hash: string; source: string } | undefined;
  /** Replaces the token and ends every session, in one transaction. */
  setTokenHash(hash: string, source: string, at: number): void;
  upgradeTokenHash(hash: string): void;
  /** Drops the expired sessions and adds this one. */
  addSession(idHash: string, csrf: string, at: number, expiresAt: number): void;
  session(idHash: string): { csrf: string; created_at: number; expires_at: number } | undefined;
  deleteSession(idHash: string): void;
}

/** The embedded default: the appliance's own SQLite. */
export class SqliteAdminTables implements AdminTables {
  constructor(private readonly store: Store) {}

  tokenHash(): { hash: string; source: string } | undefined {
    return this.store.db.prepare('SELECT hash, source FROM admin_token WHERE id=1').get() as { hash: string; source: string } | undefined;
  }

  setTokenHash(hash: string, source: string, at: number): void {
    this.store.db
      .prepare('INSERT INTO admin_token (id, hash, source, created_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET hash=excluded.hash, source=excluded.source, created_at=excluded.created_at')
      .run(hash, source, at);
    this.store.db.prepare('DELETE FROM admin_sessions').run();
  }

  upgradeTokenHash(hash: string): void {
    this.store.db.prepare('UPDATE admin_token SET hash=? WHERE id=1').run(hash);
  }

  addSession(idHash: string, csrf: string, at: number, expiresAt: number): void {
    this.store.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(at);
    this.store.db.prepare('INSERT INTO admin_sessions (id_hash, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)').run(idHash, csrf, at, expiresAt);
  }

  session(idHash: string): { csrf: string; created_at: number; expires_at: number } | undefined {
    return this.store.db.prepare('SELECT csrf, created_at, expires_at FROM admin_sessions WHERE id_hash=?').get(idHash) as
      | { csrf: string; created_at: number; expires_at: number }
      | undefined;
  }

  deleteSession(idHash: string): void {
    this.store.db.prepare('DELETE FROM admin_sessions WHERE id_hash=?').run(idHash);
  }
}
