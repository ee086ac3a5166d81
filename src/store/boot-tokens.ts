// Per-boot tokens for the pull path. Serving a pull node its install script
// issues a fresh token (replacing the one of any earlier boot); the
// talos.config= URL carries it, and the first config fetch that presents it
// spends it. Kept in the store, so a restart does not reopen a spent boot.
// Only the token's SHA-256 is stored: a copy of the database fetches nothing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';

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

/** A new token for `node`'s current boot; any earlier one stops working. */
export function issueBootToken(db: Database.Database, node: { name: string; mac: string }, issuedTo: string, now = Date.now()): string {
  const token = randomBytes(16).toString('hex');
  db.prepare(
    `INSERT INTO boot_tokens (node, mac, token_hash, issued_at, issued_to) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(node) DO UPDATE SET mac=excluded.mac, token_hash=excluded.token_hash, issued_at=excluded.issued_at,
       issued_to=excluded.issued_to, served_at=NULL, served_to=NULL`,
  ).run(node.name, node.mac, sha256(token).toString('hex'), now, issuedTo);
  return token;
}

/** Whether `token` is the unspent token of `node`'s current boot. Reads only. */
export function checkBootToken(db: Database.Database, node: { name: string; mac: string }, token: string): TokenCheck {
  const row = db.prepare('SELECT * FROM boot_tokens WHERE node = ?').get(node.name) as Record<string, unknown> | undefined;
  if (!row || row.mac !== node.mac) return { ok: false, why: 'none-issued' };
  const record: BootTokenRecord = {
    node: row.node as string, mac: row.mac as string, issuedAt: row.issued_at as number, issuedTo: row.issued_to as string,
    servedAt: row.served_at as number | null, servedTo: row.served_to as string | null,
  };
  const want = Buffer.from(row.token_hash as string, 'hex');
  if (want.length !== 32 || !timingSafeEqual(want, sha256(token))) return { ok: false, why: 'mismatch', record };
  if (record.servedAt !== null) return { ok: false, why: 'spent', record };
  return { ok: true, record };
}

/** Spends the token; false when it was not the unspent current one (already spent, or replaced). */
export function spendBootToken(db: Database.Database, node: { name: string }, token: string, servedTo: string, now = Date.now()): boolean {
  const r = db
    .prepare('UPDATE boot_tokens SET served_at = ?, served_to = ? WHERE node = ? AND token_hash = ? AND served_at IS NULL')
    .run(now, servedTo, node.name, sha256(token).toString('hex'));
  return r.changes === 1;
}
