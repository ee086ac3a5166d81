// The shared lease table as the DHCP segment reads and writes it (issue 21,
// branch pg-dhcp). Every write bumps the row's `rev` from one sequence, so a
// reader can ask for "what changed since rev N" in one query (the answerer,
// before each batch) and notice any change at all from (count, sum of revs)
// (a standby's mirror, every poll).
import type { Lease } from '../../dhcp/leases.js';
import type { LeaseFreed, SharedBind } from '../../dhcp/sharing.js';
import type { PsqlSession } from './psql-session.js';
import { storableText } from '../client-text.js';

/** PostgreSQL-only migration: the change counter on `leases` (appended after the shared tables). */
export const LEASES_REV_MIGRATION = `CREATE SEQUENCE IF NOT EXISTS leases_rev;
ALTER TABLE leases ADD COLUMN IF NOT EXISTS rev BIGINT NOT NULL DEFAULT nextval('leases_rev');
CREATE INDEX IF NOT EXISTS leases_by_rev ON leases (rev);`;

type Row = { mac: string; ip: string; state: Lease['state']; expires_at: number; client_id: string | null; hostname: string | null; rev: number };
export const toLease = (r: Omit<Row, 'rev'>): Lease => ({ mac: r.mac, ip: r.ip, state: r.state, expiresAt: r.expires_at, clientId: r.client_id, hostname: r.hostname });
const COLUMNS = 'mac, ip, state, expires_at, client_id, hostname, rev';

export interface LeaseRead { leases: Lease[]; maxRev: number }

/** The whole table, with its highest rev. */
export async function readAllLeases(s: PsqlSession): Promise<LeaseRead> {
  const rows = await s.rows<Row>(`SELECT ${COLUMNS} FROM leases`);
  return { leases: rows.map(toLease), maxRev: rows.reduce((m, r) => Math.max(m, Number(r.rev)), 0) };
}

/** Rows written after rev `since` (deleted rows are not seen: the full read catches those). */
export async function readLeasesSince(s: PsqlSession, since: number): Promise<LeaseRead> {
  const rows = await s.rows<Row>(`SELECT ${COLUMNS} FROM leases WHERE rev > $1`, [since]);
  return { leases: rows.map(toLease), maxRev: rows.reduce((m, r) => Math.max(m, Number(r.rev)), since) };
}

/** Changes whenever any row is inserted, updated or deleted. */
export async function leasesSignature(s: PsqlSession): Promise<string> {
  const [row] = await s.rows<{ n: string; sum: string | null }>('SELECT count(*)::text AS n, sum(rev)::text AS sum FROM leases');
  return `${row?.n}:${row?.sum ?? 0}`;
}

/**
 * Applies a RELEASE or DECLINE that a local book recorded at `at`, unless the
 * address was bound again after it (a later bind wins over a late delivery).
 * A release names the lease it ends by its expiry: a renewal on any appliance
 * sets a new one, so no clock is compared; without it (a lease the book did
 * not have), and for a DECLINE, `at` is compared with the row's updated_at.
 * The caller runs it inside a transaction.
 */
export async function applyFreed(s: PsqlSession, change: LeaseFreed, at: number): Promise<void> {
  if (change.kind === 'released') {
    await s.exec(`UPDATE leases SET state = 'released', updated_at = $1, rev = nextval('leases_rev')
      WHERE mac = $2 AND ip = $3 AND state = 'bound' AND (expires_at = $4::bigint OR ($4::bigint IS NULL AND updated_at <= $1))`,
    [at, change.mac, change.ip, change.expiresAt ?? null]);
    return;
  }
  await s.exec('DELETE FROM leases WHERE ip = $1 AND updated_at <= $2', [change.ip, at]);
  await s.exec(`INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ($1, $2, 'declined', $3, $4) ON CONFLICT DO NOTHING`,
    [`declined:${change.ip}`, change.ip, change.until, at]);
}

// A bind: the address's rows that nobody holds now (lapsed, released,
// another MAC's sticky row) go, then the MAC's row says bound. An address
// still bound to, or quarantined for, another MAC fails the unique index on
// ip (23505).
const BIND_ALL = `WITH binds AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS b(mac, ip, expires_at, client_id, hostname)),
  freed AS (DELETE FROM leases l USING binds b WHERE l.ip = b.ip AND l.mac <> b.mac AND NOT (l.state IN ('bound', 'declined') AND l.expires_at > $6) RETURNING 1)
  INSERT INTO leases (mac, ip, state, expires_at, client_id, hostname, updated_at)
  SELECT mac, ip, 'bound', expires_at, client_id, hostname, $6 FROM binds WHERE (SELECT count(*) FROM freed) >= 0
  ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip, state = 'bound', expires_at = excluded.expires_at, rev = nextval('leases_rev'),
    client_id = COALESCE(excluded.client_id, leases.client_id), hostname = COALESCE(excluded.hostname, leases.hostname), updated_at = excluded.updated_at`;

/**
 * Every bind of a group in one statement, so in one round trip and one
 * transaction of its own. The DELETE is finished before the first row is
 * inserted: the INSERT's rows pass a filter on the DELETE's row count, which
 * PostgreSQL evaluates once, before the first row (a one-time filter over an
 * InitPlan); rows this statement deleted do not count against the unique
 * index. Throws, having written nothing, when a bind cannot be made this
 * way: 23505 when an address is still held by another MAC (or two binds
 * name it), 21000 when one MAC is bound twice in the group, or any error
 * one bind's values cause. The caller then binds them one at a time, each a
 * group of one under a savepoint (one bind cannot raise 21000), and asks who
 * holds an address refused.
 */
export async function bindAll(s: PsqlSession, binds: readonly SharedBind[], now: number): Promise<void> {
  const column = <K extends keyof SharedBind>(k: K) => binds.map((b) => b[k] ?? null);
  // The DHCP handler stores host names as storableText already; a local
  // book's row written before it did (an upgraded appliance) may still hold a NUL.
  const hostnames = binds.map((b) => (b.hostname == null ? null : storableText(b.hostname)));
  await s.exec(BIND_ALL, [column('mac'), column('ip'), column('expiresAt'), column('clientId'), hostnames, now]);
}

