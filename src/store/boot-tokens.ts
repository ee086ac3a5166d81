// Per-boot tokens for the pull path. Serving a pull node its install script
// issues a fresh token (replacing the one of any earlier boot); the
// talos.config= URL carries it, and the first config fetch that presents it
// spends it. Kept in the store, so a restart does not reopen a spent boot.
// Only the token's SHA-256 is stored: a copy of the database fetches nothing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';

export interface BootTokenRecord {
  node: string;
  mac: string;
  issuedAt: number;
  issuedTo: string;
  servedAt: number | null;
  servedTo: string | null;
}

export type TokenCheck =
  | { ok: true; record: BootTokenRecord }
  | { ok: false; why: 'none-issued' | 'mismatch' | 'spent'; record?: BootTokenRecord };

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** A new random token and the hash of it that is stored. */
export function newBootToken(): { token: string; hash: string } {
  const token = randomBytes(16).toString('hex');
  return { token, hash: tokenHash(token) };
}

export const tokenHash = (token: string) => sha256(token).toString('hex');

/** A new token for `node`'s current boot; any earlier one stops working. */
export function issueBootToken(db: Database.Database, node: { name: string; mac: string }, issuedTo: string, now = Date.now()): string {
  const { token, hash } = newBootToken();
  prepared(
    db,
    `INSERT INTO boot_tokens (node, mac, token_hash, issued_at, issued_to) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, token_hash=excluded.token_hash, issued_at=excluded.issued_at,
       issued_to=excluded.issued_to, served_at=NULL, served_to=NULL`,
  ).run(node.name, node.mac, hash, now, issuedTo);
  return token;
}

/** Whether `token` is the unspent token of `node`'s current boot. Reads only. */
export function checkBootToken(db: Database.Database, node: { name: string; mac: string }, token: string): TokenCheck {
  return tokenCheck(prepared(db, 'SELECT * FROM boot_tokens WHERE node = ?').get(node.name) as Record<string, unknown> | undefined, node, token);
}

/** What `row` (the node's boot_tokens row, from either store) says of `token`. */
export function tokenCheck(row: Record<string, unknown> | undefined, node: { mac: string }, token: string): TokenCheck {
  if (!row || row.mac !== node.mac) return { ok: false, why: 'none-issued' };
  const record: BootTokenRecord = {
    node: row.node as string, mac: row.mac as string, issuedAt: Number(row.issued_at), issuedTo: row.issued_to as string,
    servedAt: row.served_at === null ? null : Number(row.served_at), servedTo: row.served_to as string | null,
  };
  const want = Buffer.from(row.token_hash as string, 'hex');
  if (want.length !== 32 || !timingSafeEqual(want, sha256(token))) return { ok: false, why: 'mismatch', record };
  if (record.servedAt !== null) return { ok: false, why: 'spent', record };
  return { ok: true, record };
}

/** Spends the token; false when it was not the unspent current one (already spent, or replaced). */
export function spendBootToken(db: Database.Database, node: { name: string }, token: string, servedTo: string, now = Date.now()): boolean {
  const r = prepared(db, 'UPDATE boot_tokens SET served_at = ?, served_to = ? WHERE node = ? AND token_hash = ? AND served_at IS NULL')
    .run(now, servedTo, node.name, tokenHash(token));
  return r.changes === 1;
}

/** Where a pull node's boot tokens are: every appliance that serves its script or its config must see the same row. */
export interface BootTokenStore {
  issue(node: { name: string; mac: string }, issuedTo: string): string;
  check(node: { name: string; mac: string }, token: string): TokenCheck;
  spend(node: { name: string }, token: string, servedTo: string): boolean;
}

/** The embedded default: the appliance's own SQLite (the functions above, unchanged). */
export class SqliteBootTokens implements BootTokenStore {
  constructor(private readonly db: Database.Database) {}
  issue(node: { name: string; mac: string }, issuedTo: string): string { return issueBootToken(this.db, node, issuedTo); }
  check(node: { name: string; mac: string }, token: string): TokenCheck { return checkBootToken(this.db, node, token); }
  spend(node: { name: string }, token: string, servedTo: string): boolean { return spendBootToken(this.db, node, token, servedTo); }
}
