// The admin token and sessions in the shared PostgreSQL (scaleOut.postgres):
// an operator logged into one appliance's page is logged into every one's,
// and a logout or a new token there ends the session everywhere. The rows
// are those of the SQLite tables (hashes only, see ../admin.ts).
import { SqliteAdminTables, type AdminTables } from '../admin-tables.js';
import type { Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

type SessionRow = { csrf: string; created_at: number; expires_at: number };

export class PgAdminTables implements AdminTables {
  constructor(private readonly pg: PgStore) {}

  tokenHash(): { hash: string; source: string } | undefined {
    return this.pg.sharedQuery<{ hash: string; source: string }>('SELECT hash, source FROM admin_token WHERE id=1')[0];
  }

  setTokenHash(hash: string, source: string, at: number): void {
    this.pg.transaction(() => {
      this.pg.sharedQuery(`INSERT INTO admin_token (id, hash, source, created_at) VALUES (1, $1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET hash=excluded.hash, source=excluded.source, created_at=excluded.created_at`, [hash, source, at]);
      this.pg.sharedQuery('DELETE FROM admin_sessions');
    });
  }

  upgradeTokenHash(hash: string): void {
    this.pg.sharedQuery('UPDATE admin_token SET hash=$1 WHERE id=1', [hash]);
  }

  addSession(idHash: string, csrf: string, at: number, expiresAt: number): void {
    this.pg.sharedQuery('DELETE FROM admin_sessions WHERE expires_at <= $1', [at]);
    this.pg.sharedQuery('INSERT INTO admin_sessions (id_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4)', [idHash, csrf, at, expiresAt]);
  }

  session(idHash: string): SessionRow | undefined {
    return this.pg.sharedQuery<SessionRow>('SELECT csrf, created_at, expires_at FROM admin_sessions WHERE id_hash=$1', [idHash])[0];
  }

  deleteSession(idHash: string): void {
    this.pg.sharedQuery('DELETE FROM admin_sessions WHERE id_hash=$1', [idHash]);
  }
}

/** The admin tables where this store keeps its nodes: PostgreSQL's with scaleOut.postgres, else the SQLite file's. */
export function adminTablesOf(store: Store): AdminTables {
  return store instanceof SharedStore ? new PgAdminTables(store.shared) : new SqliteAdminTables(store);
}
