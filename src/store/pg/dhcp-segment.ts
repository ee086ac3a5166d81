// DHCP on one segment shared by several appliances (issue 21): exactly one
// answers, and every binding it ACKs is committed in PostgreSQL first.
//
// Who answers: the holder of a session-level advisory lock per segment. The
// server frees it the moment the holder's session ends (process killed,
// connection closed), and a standby polling every `pollMs` takes it on its
// next poll: a bounded takeover with no lease row to expire. The binds go
// over that same session, so a bind that commits proves the lock was held
// when it ran; a holder that lost its session cannot commit, and so cannot
// ACK. A holder that hangs with its connection open stops polling, and the
// server ends its session once it has been idle for idleTimeoutMs
// (idle_session_timeout, PostgreSQL 14+), which frees the lock.
//
// No address twice: `leases.ip` is UNIQUE (the SQLite DDL, shared). A bind
// first deletes this address's rows that nobody holds now (lapsed, released,
// another MAC's sticky row), then upserts the MAC's row; an address still
// bound to another MAC fails the unique index (23505) and is not ACKed. Under
// READ COMMITTED that is enough: of two concurrent inserts of one ip the
// second waits on the index entry and fails once the first commits, so no
// SERIALIZABLE retries are needed. Allocation itself stays in the answerer's
// local SQLite book (only one instance allocates at a time), which the new
// holder fills from PostgreSQL before it answers anything.
import type { Logger } from '../../log.js';
import type { Lease } from '../../dhcp/leases.js';
import type { DhcpSharing, LeaseFreed, SharedBind } from '../../dhcp/sharing.js';
import { migratePg } from './migrations.js';
import { PgError, PsqlSession } from './psql-session.js';

/** First key of the two-key advisory lock "answers DHCP on a segment" ('dhcp'); the second is hashtext(segment). */
export const DHCP_LOCK_CLASS = 0x64686370;
export const DEFAULT_POLL_MS = 500;

export interface PgDhcpSegmentOptions {
  conninfo: string;
  /** What names the segment for every appliance on it (scaleOut.dhcpSegment, default the DHCP subnet). */
  segment: string;
  /** Fills the local lease book from the shared one, before this instance answers. */
  adopt: (leases: Lease[]) => void;
  log?: Logger;
  pollMs?: number;
  /** The server ends this session after it has been idle this long (a hung holder); default max(5 polls, 3 s). */
  idleTimeoutMs?: number;
  now?: () => number;
}

type BindResult = { ok: true } | { ok: false; holder?: Lease; error?: string };
type Row = { mac: string; ip: string; state: Lease['state']; expires_at: number; client_id: string | null; hostname: string | null };
const toLease = (r: Row): Lease => ({ mac: r.mac, ip: r.ip, state: r.state, expiresAt: r.expires_at, clientId: r.client_id, hostname: r.hostname });

export class PgDhcpSegment implements DhcpSharing {
  private session: PsqlSession | undefined;
  private holding = false;
  private closed = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Batches commit one after another: one session holds one transaction at a time. */
  private commits: Promise<unknown> = Promise.resolve();

  private constructor(private readonly opts: PgDhcpSegmentOptions) {}

  /** Connects, tries the segment lock once, and keeps trying (or checking the session) every pollMs. */
  static async start(opts: PgDhcpSegmentOptions): Promise<PgDhcpSegment> {
    const seg = new PgDhcpSegment(opts);
    await seg.poll();
    seg.timer = setInterval(() => void seg.poll(), opts.pollMs ?? DEFAULT_POLL_MS);
    seg.timer.unref();
    return seg;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  answering(): boolean {
    return this.holding && this.session?.alive === true;
  }

  /** One pass at a time: a slow database must not stack passes. */
  poll(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.session?.alive) {
        if (this.holding) this.opts.log?.warn({ segment: this.opts.segment }, 'dhcp: lost the database session: no longer answering on this segment');
        this.holding = false;
        const s = new PsqlSession(this.opts.conninfo);
        this.session = s;
        const poll = this.opts.pollMs ?? DEFAULT_POLL_MS;
        await s.exec(`SET idle_session_timeout = ${Math.round(this.opts.idleTimeoutMs ?? Math.max(5 * poll, 3000))}`);
        await migratePg(s);
      }
      const s = this.session;
      if (this.holding) {
        await s.rows('SELECT 1 AS alive');
        return;
      }
      const [row] = await s.rows<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [DHCP_LOCK_CLASS, `rackboot.dhcp:${this.opts.segment}`]);
      if (!row?.got) return;
      const leases = (await s.rows<Row>('SELECT mac, ip, state, expires_at, client_id, hostname FROM leases')).map(toLease);
      this.opts.adopt(leases);
      this.holding = true;
      this.opts.log?.info({ segment: this.opts.segment, leases: leases.length }, 'dhcp: answering on this segment');
    } catch (err) {
      if (this.holding) this.opts.log?.warn({ err, segment: this.opts.segment }, 'dhcp: database unavailable: no longer answering on this segment');
      this.holding = false;
      await this.session?.kill().catch(() => undefined);
    }
  }

  commitBinds(binds: SharedBind[]): Promise<BindResult[]> {
    const next = this.commits.then(() => this.commitNow(binds));
    this.commits = next.catch(() => undefined);
    return next;
  }

  /**
   * A RELEASE frees the MAC's row for that address; a DECLINE replaces the
   * address's rows with its quarantine row, as the local book does. Not
   * answering, nothing is written (the answerer's own book decides).
   */
  recordFreed(change: LeaseFreed): Promise<void> {
    const next = this.commits.then(() => this.freeNow(change));
    this.commits = next.catch(() => undefined);
    return next;
  }

  private async freeNow(change: LeaseFreed): Promise<void> {
    const s = this.session;
    if (!this.answering() || !s) return;
    const now = this.now();
    try {
      if (change.kind === 'released') {
        await s.exec(`UPDATE leases SET state = 'released', updated_at = $1 WHERE mac = $2 AND ip = $3`, [now, change.mac, change.ip]);
        return;
      }
      await s.exec('BEGIN');
      await s.exec('DELETE FROM leases WHERE ip = $1', [change.ip]);
      await s.exec(`INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ($1, $2, 'declined', $3, $4)`, [`declined:${change.ip}`, change.ip, change.until, now]);
      await s.exec('COMMIT');
    } catch (err) {
      if (change.kind === 'declined') await s.exec('ROLLBACK').catch(() => undefined);
      this.opts.log?.warn({ err, change }, 'dhcp: could not record a freed lease in the shared store (it lapses there by itself)');
    }
  }

  private async commitNow(binds: SharedBind[]): Promise<BindResult[]> {
    if (binds.length === 0) return [];
    const s = this.session;
    if (!this.answering() || !s) return binds.map(() => ({ ok: false, error: 'not answering on this segment' }));
    const now = this.now();
    const out: BindResult[] = [];
    try {
      await s.exec('BEGIN');
      for (const b of binds) {
        await s.exec('SAVEPOINT bind');
        try {
          await s.exec(`DELETE FROM leases WHERE ip = $1 AND mac <> $2 AND NOT (state IN ('bound', 'declined') AND expires_at > $3)`, [b.ip, b.mac, now]);
          await s.exec(`INSERT INTO leases (mac, ip, state, expires_at, client_id, hostname, updated_at) VALUES ($1, $2, 'bound', $3, $4, $5, $6)
            ON CONFLICT (mac) DO UPDATE SET ip = excluded.ip, state = 'bound', expires_at = excluded.expires_at,
              client_id = COALESCE(excluded.client_id, leases.client_id), hostname = COALESCE(excluded.hostname, leases.hostname), updated_at = excluded.updated_at`,
          [b.mac, b.ip, b.expiresAt, b.clientId ?? null, b.hostname ?? null, now]);
          await s.exec('RELEASE SAVEPOINT bind');
          out.push({ ok: true });
        } catch (err) {
          if (!(err instanceof PgError) || err.sqlstate !== '23505') throw err;
          await s.exec('ROLLBACK TO SAVEPOINT bind');
          const [holder] = await s.rows<Row>('SELECT mac, ip, state, expires_at, client_id, hostname FROM leases WHERE ip = $1', [b.ip]);
          out.push({ ok: false, holder: holder && toLease(holder), error: `${b.ip} is bound to ${holder?.mac ?? 'another client'} in the shared store` });
        }
      }
      await s.exec('COMMIT');
      return out;
    } catch (err) {
      await s.exec('ROLLBACK').catch(() => undefined);
      this.opts.log?.warn({ err }, 'dhcp: shared lease commit failed: no ACK for this batch');
      return binds.map(() => ({ ok: false, error: (err as Error).message }));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.holding = false;
    await this.session?.close();
  }

  /** Tests: this appliance hangs (no more polls), its connection left open. */
  hang(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Tests: this appliance dies (no more polls, the session drops without a goodbye). */
  async kill(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.session?.kill();
  }
}
