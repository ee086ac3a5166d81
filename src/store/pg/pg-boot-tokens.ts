// Boot tokens in the shared PostgreSQL (scaleOut.postgres): a node may get
// its install script (and token) from one appliance and fetch its config
// from another, which must know that token, and spend it exactly once
// whichever appliances the fetches reach. The spend is one conditional
// UPDATE (`served_at IS NULL`): of two concurrent spends, the second waits
// on the row lock, re-checks the condition after the first commits (READ
// COMMITTED) and changes nothing.
import { newBootToken, SqliteBootTokens, tokenCheck, tokenHash, type BootTokenStore, type TokenCheck } from '../boot-tokens.js';
import type { Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

export class PgBootTokens implements BootTokenStore {
  constructor(private readonly pg: PgStore, private readonly now: () => number = Date.now) {}

  issue(node: { name: string; mac: string }, issuedTo: string): string {
    const { token, hash } = newBootToken();
    this.pg.sharedQuery(
      `INSERT INTO boot_tokens (node, mac, token_hash, issued_at, issued_to) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (node) DO UPDATE SET mac=excluded.mac, token_hash=excluded.token_hash, issued_at=excluded.issued_at,
         issued_to=excluded.issued_to, served_at=NULL, served_to=NULL`,
      [node.name, node.mac, hash, this.now(), issuedTo],
    );
    return token;
  }

  check(node: { name: string; mac: string }, token: string): TokenCheck {
    const [row] = this.pg.sharedQuery('SELECT * FROM boot_tokens WHERE node = $1', [node.name]);
    return tokenCheck(row, node, token);
  }

  spend(node: { name: string }, token: string, servedTo: string): boolean {
    const spent = this.pg.sharedQuery(
      'UPDATE boot_tokens SET served_at = $1, served_to = $2 WHERE node = $3 AND token_hash = $4 AND served_at IS NULL RETURNING node',
      [this.now(), servedTo, node.name, tokenHash(token)],
    );
    return spent.length === 1;
  }
}

/** The boot tokens where this store keeps its nodes: PostgreSQL's with scaleOut.postgres, else the SQLite file's. */
export function bootTokensOf(store: Store): BootTokenStore {
  return store instanceof SharedStore ? new PgBootTokens(store.shared) : new SqliteBootTokens(store.db);
}
