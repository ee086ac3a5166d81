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
// SERIALIZABLE retries are needed.
//
// PostgreSQL decides what the local book allocates from (branch pg-dhcp):
// the handler chooses synchronously from the appliance's SQLite book, and
// that book is PostgreSQL's table. A new holder replaces its whole book with
// PostgreSQL's before it answers (rows only this appliance had are dropped),
// the holder reads the rows changed since its last read before each batch
// (one query), and a standby mirrors the table whenever it changed, so the
// page and /metrics on every appliance show the same leases. A RELEASE or
// DECLINE is queued in the local store and retried until PostgreSQL has it.
import type { Logger } from '../../log.js';
import type { Settings } from '../../settings/settings.js';
import type { Lease } from '../../dhcp/leases.js';
import type { DhcpSharing, LeaseFreed, SharedBind } from '../../dhcp/sharing.js';
import { memoryOutbox, type FreedOutbox } from '../../dhcp/freed-outbox.js';
import { migratePg } from './migrations.js';
import { PgError, PsqlSession } from './psql-session.js';
import { applyFreed, bindAll, leasesSignature, readAllLeases, readLeasesSince, toLease } from './shared-leases.js';

/** First key of the two-key advisory lock "answers DHCP on a segment" ('dhcp'); the second is hashtext(segment). */
export const DHCP_LOCK_CLASS = 0x64686370;
export const DEFAULT_POLL_MS = 500;

/** What names an appliance's segment (scaleOut.dhcpSegment, else the DHCP subnet): appliances that name the same take turns. */
export const segmentName = (settings: Pick<Settings, 'scaleOut' | 'dhcp'>): string => settings.scaleOut?.dhcpSegment ?? settings.dhcp.subnet ?? 'default';

export interface PgDhcpSegmentOptions {
  conninfo: string;
  /** What names the segment for every appliance on it (scaleOut.dhcpSegment, default the DHCP subnet). */
  segment: string;
  /** Takes these shared rows into the local lease book (rows changed since the last read). */
  adopt: (leases: Lease[]) => void;
  /** Makes the local lease book exactly the shared one (on taking the segment, and a standby's mirror); default: adopt. */
  replace?: (leases: Lease[]) => void;
  /** Where RELEASEs and DECLINEs wait until PostgreSQL has them (default: in memory). */
  outbox?: FreedOutbox;
  /** The holder re-reads the whole table every this many polls (catches deletions by others); default 10. */
  fullReadEveryPolls?: number;
  log?: Logger;
  pollMs?: number;
  /** The server ends this session after it has been idle this long (a hung holder); default max(5 polls, 3 s). */
  idleTimeoutMs?: number;
  now?: () => number;
}

type BindResult = { ok: true } | { ok: false; holder?: Lease; error?: string };
const UNIQUE_VIOLATION = '23505';
/**
 * A server error one bind's values can cause (SQLSTATE classes 21
 * cardinality, 22 data, 23 integrity, P0 a trigger's RAISE): the group goes
 * one bind at a time. Any other (a timeout, a deadlock, resources, the
 * session lost) refuses the whole group: binds one by one would only meet
 * it again, once each.
 */
const oneBindsFault = (err: unknown): err is PgError => err instanceof PgError && /^(21|22|23|P0)/.test(err.sqlstate);
type Row = { mac: string; ip: string; state: Lease['state']; expires_at: number; client_id: string | null; hostname: string | null };

/** What /metrics shows of the segment (flattened under dhcp_segment_*). */
export interface SegmentStatus {
  answering: number;
  sharedLeasesBound: number;
  freedQueued: number;
  /** leaseReads: reads of the rows changed before a batch (batches waiting together share one); bindCommits: transactions that bound leases (binds waiting together share one). */
  totals: { takeovers: number; sessionsLost: number; freedDelivered: number; freedRetries: number; leaseReads: number; bindCommits: number };
}

export class PgDhcpSegment implements DhcpSharing {
  private session: PsqlSession | undefined;
  private holding = false;
  private closed = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Batches commit one after another: one session holds one transaction at a time. */
  private commits: Promise<unknown> = Promise.resolve();
  /**
   * The work queued last on the session, until it begins: a refresh that
   * more batches may share, or a group that more batches' binds may join.
   * Anything queued after it closes it, so nothing moves ahead of work that
   * was asked for before it.
   */
  private joinable: { kind: 'refresh'; done: Promise<void> } | { kind: 'binds'; binds: SharedBind[]; done: Promise<BindResult[]> } | undefined;
  private readonly outbox: FreedOutbox;
  /** The highest rev this book has read, and the table's signature when it last read it whole. */
  private rev = 0;
  private signature: string | undefined;
  private polls = 0;
  private bound = 0;
  private readonly totals = { takeovers: 0, sessionsLost: 0, freedDelivered: 0, freedRetries: 0, leaseReads: 0, bindCommits: 0 };

  private constructor(private readonly opts: PgDhcpSegmentOptions) {
    this.outbox = opts.outbox ?? memoryOutbox();
  }

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
    this.polls++;
    try {
      if (!this.session?.alive) {
        if (this.holding) {
          this.totals.sessionsLost++;
          this.opts.log?.warn({ segment: this.opts.segment }, 'dhcp: lost the database session: no longer answering on this segment');
        }
        this.holding = false;
        this.signature = undefined;
        const s = new PsqlSession(this.opts.conninfo);
        this.session = s;
        const poll = this.opts.pollMs ?? DEFAULT_POLL_MS;
        await s.exec(`SET idle_session_timeout = ${Math.round(this.opts.idleTimeoutMs ?? Math.max(5 * poll, 3000))}`);
        await migratePg(s);
      }
      const s = this.session;
      await this.serial(() => this.deliverFreed());
      if (this.holding) {
        if (this.polls % (this.opts.fullReadEveryPolls ?? 10) === 0) await this.serial(() => this.mirror());
        else await s.rows('SELECT 1 AS alive');
        return;
      }
      const [row] = await s.rows<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [DHCP_LOCK_CLASS, `rackboot.dhcp:${this.opts.segment}`]);
      if (!row?.got) {
        await this.serial(() => this.mirror());
        return;
      }
      const leases = await this.serial(() => this.mirror(true));
      this.holding = true;
      this.totals.takeovers++;
      this.opts.log?.info({ segment: this.opts.segment, leases }, 'dhcp: answering on this segment');
    } catch (err) {
      if (this.holding) {
        this.totals.sessionsLost++;
        this.opts.log?.warn({ err, segment: this.opts.segment }, 'dhcp: database unavailable: no longer answering on this segment');
      }
      this.holding = false;
      await this.session?.kill().catch(() => undefined);
    }
  }

  /** One statement sequence at a time on the session (binds, frees and reads never interleave inside a transaction). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    this.joinable = undefined;
    const next = this.commits.then(work);
    this.commits = next.catch(() => undefined);
    return next;
  }

  /** Makes the local book PostgreSQL's table, if it changed since the last whole read (always when `force`); returns its row count. */
  private async mirror(force = false): Promise<number> {
    const s = this.session!;
    const signature = await leasesSignature(s);
    if (!force && signature === this.signature) return -1;
    const read = await readAllLeases(s);
    (this.opts.replace ?? this.opts.adopt)(read.leases);
    this.signature = signature;
    this.rev = read.maxRev;
    this.bound = read.leases.filter((l) => l.state === 'bound' && l.expiresAt > this.now()).length;
    return read.leases.length;
  }

  /**
   * The answerer, before it chooses addresses for a batch: takes the rows
   * written since its last read into its local book (one query; nothing
   * when none changed). Not answering, nothing is read. Batches that ask
   * while a refresh waits its turn share it: its read begins after they all
   * arrived, so each still sees everything committed before it asked.
   */
  refresh(): Promise<void> {
    if (!this.answering()) return Promise.resolve();
    if (this.joinable?.kind === 'refresh') return this.joinable.done;
    const item = { kind: 'refresh' as const, done: Promise.resolve() };
    item.done = this.serial(async () => {
      if (this.joinable === item) this.joinable = undefined;
      const s = this.session;
      if (!s || !this.answering()) return;
      try {
        this.totals.leaseReads++;
        const read = await readLeasesSince(s, this.rev);
        if (read.leases.length > 0) this.opts.adopt(read.leases);
        this.rev = read.maxRev;
      } catch (err) {
        this.opts.log?.warn({ err }, 'dhcp: could not read the shared leases before answering');
      }
    });
    this.joinable = item;
    return item.done;
  }

  // branch pg-dhcp6: DHCPv6 on the same segment rides on this lock (one appliance answers both families).

  /** Increases each time this instance takes the segment: another family's book re-reads the shared table once per turn. */
  turn(): number {
    return this.totals.takeovers;
  }

  /**
   * Runs `work` on the session that holds the segment lock, after the
   * statements queued before it; not answering, it does not run (undefined).
   * What commits there was committed by the lock holder (the fencing above).
   */
  onLockedSession<T>(work: (s: PsqlSession) => Promise<T>): Promise<T | undefined> {
    return this.serial(async () => (this.answering() && this.session ? work(this.session) : undefined));
  }

  status(): SegmentStatus {
    return { answering: this.answering() ? 1 : 0, sharedLeasesBound: this.bound, freedQueued: this.outbox.pending().length, totals: { ...this.totals } };
  }

  /**
   * Group commit: binds asked for while the session is busy wait in one
   * group, committed together when the session is free (one statement for
   * the lot, see commitNow), so the database's round trips and WAL flushes
   * do not cap the DORA rate at one batch per commit.
   */
  commitBinds(binds: SharedBind[]): Promise<BindResult[]> {
    if (binds.length === 0) return Promise.resolve([]);
    let group = this.joinable?.kind === 'binds' ? this.joinable : undefined;
    if (!group) {
      const created = { kind: 'binds' as const, binds: [] as SharedBind[], done: Promise.resolve([] as BindResult[]) };
      created.done = this.serial(() => {
        if (this.joinable === created) this.joinable = undefined;
        return this.commitNow(created.binds);
      });
      this.joinable = group = created;
    }
    const from = group.binds.length;
    group.binds.push(...binds);
    return group.done.then((results) => results.slice(from, from + binds.length));
  }

  /**
   * A RELEASE frees the MAC's row for that address; a DECLINE replaces the
   * address's rows with its quarantine row, as the local book does. The
   * change is queued in the outbox first and leaves it once PostgreSQL has
   * it: now if the session is up, else on a later poll. A change that comes
   * after the address was bound again is void (applyFreed).
   */
  recordFreed(change: LeaseFreed): Promise<void> {
    this.outbox.push(change, this.now());
    return this.serial(() => this.deliverFreed());
  }

  private async deliverFreed(): Promise<void> {
    const s = this.session;
    const queued = this.outbox.pending();
    if (queued.length === 0) return;
    if (!s?.alive) {
      this.totals.freedRetries++;
      return;
    }
    for (const e of queued) {
      try {
        await s.exec('BEGIN');
        await applyFreed(s, e.change, e.at);
        await s.exec('COMMIT');
      } catch (err) {
        await s.exec('ROLLBACK').catch(() => undefined);
        this.totals.freedRetries++;
        this.opts.log?.warn({ err, change: e.change }, 'dhcp: could not record a freed lease in the shared store yet (kept, retried on the next poll)');
        return;
      }
      this.outbox.done(e.id);
      this.totals.freedDelivered++;
    }
  }

  /**
   * A group in one statement when every bind can be made (the common case:
   * the book chose free addresses). When it fails on a bind's values (an
   * address held, a MAC twice in the group, a value the table refuses), one
   * bind at a time, so one bind refused does not refuse the others, and it
   * says who holds the address.
   */
  private async commitNow(binds: SharedBind[]): Promise<BindResult[]> {
    const s = this.session;
    if (!this.answering() || !s) return binds.map(() => ({ ok: false, error: 'not answering on this segment' }));
    const now = this.now();
    try {
      await bindAll(s, binds, now);
      this.totals.bindCommits++;
      return binds.map(() => ({ ok: true }));
    } catch (err) {
      if (!oneBindsFault(err)) return this.refuseAll(binds, err);
    }
    const out: BindResult[] = [];
    let refusedBy: PgError | undefined;
    let refused = 0;
    try {
      await s.exec('BEGIN');
      for (const b of binds) {
        await s.exec('SAVEPOINT bind');
        try {
          await bindAll(s, [b], now);
          await s.exec('RELEASE SAVEPOINT bind');
          out.push({ ok: true });
        } catch (err) {
          if (!oneBindsFault(err)) throw err;
          await s.exec('ROLLBACK TO SAVEPOINT bind');
          if (err.sqlstate !== UNIQUE_VIOLATION) {
            refusedBy ??= err;
            refused++;
            out.push({ ok: false, error: err.message });
            continue;
          }
          const [holder] = await s.rows<Row>('SELECT mac, ip, state, expires_at, client_id, hostname FROM leases WHERE ip = $1', [b.ip]);
          out.push({ ok: false, holder: holder && toLease(holder), error: `${b.ip} is bound to ${holder?.mac ?? 'another client'} in the shared store` });
        }
      }
      await s.exec('COMMIT');
      this.totals.bindCommits++;
      // The server's error once per group, as refuseAll does; the caller logs each ACK not sent.
      if (refusedBy) this.opts.log?.warn({ err: refusedBy, refused }, 'dhcp: the shared store refused binds of this batch: no ACK for them');
      return out;
    } catch (err) {
      await s.exec('ROLLBACK').catch(() => undefined);
      return this.refuseAll(binds, err);
    }
  }

  private refuseAll(binds: SharedBind[], err: unknown): BindResult[] {
    this.opts.log?.warn({ err }, 'dhcp: shared lease commit failed: no ACK for this batch');
    return binds.map(() => ({ ok: false, error: (err as Error).message }));
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
