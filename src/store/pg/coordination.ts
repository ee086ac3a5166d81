// Several appliances on one PostgreSQL: leadership for the Talos steps and
// the shared cluster_state, over one database session.
//
// Leadership is a session-level advisory lock: the server frees it the moment
// the session ends (process killed, connection lost), and the standby takes it
// on its next pass. Every shared write goes over that same session and only
// while it leads, so a write that succeeds proves the lock was held when it
// ran: a leader that lost its session cannot record a bootstrap intent, and
// Bootstrap is only ever sent after its intent was recorded.
//
// A leader that hangs while its connection stays up (event loop stuck, process
// stopped) must not keep the lock: on taking it, the session gets
// idle_session_timeout = leaseMs, so the server ends a session that sends
// nothing for that long, and the lock with it. A healthy leader confirms its
// lock on a timer (every keepaliveMs < leaseMs), which only runs while its
// event loop does. As a self-check it also refuses shared writes once its last
// confirmation is older than leaseMs, whatever the server has done yet.
//
// Local readers not ported to the shared store yet (health gate, state
// machine, admin page, /metrics) read the local SQLite cluster_state: every
// shared value this instance writes, or finds when it leads, is mirrored there.
import type { Logger } from '../../log.js';
import type { ClusterStateStore } from '../cluster-state-store.js';
import { FREE_CLAIM } from '../cluster-state-store.js';
import type { Store } from '../store.js';
import type { Leadership, LeadershipStats } from '../../talos/leadership.js';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { migratePg } from './migrations.js';
import { PsqlSession } from './psql-session.js';

/** The advisory lock key for "runs the Talos steps"; one cluster per database. */
export const TALOS_LEADER_LOCK = 0x7261636b; // 'rack'

/** How long a leader may go without confirming its lock before the server ends its session (and the lock). */
export const LEADER_LEASE_MS = 15_000;

export interface PgCoordinationOptions {
  /** libpq conninfo or postgres:// URI. */
  conninfo: string;
  /** This instance's own store, where shared values are mirrored for local readers. */
  local: Store;
  log?: Logger;
  now?: () => number;
  /** See LEADER_LEASE_MS. */
  leaseMs?: number;
  /** How often the leader confirms its lock; default a third of leaseMs. */
  keepaliveMs?: number;
  /** Names this instance in pg_stat_activity (doctor shows who leads); default host and pid. */
  instanceName?: string;
}

export class PgCoordination implements Leadership, ClusterStateStore {
  private session: PsqlSession | undefined;
  private leading = false;
  private closed = false;
  private changes = 0;
  /** performance.now() of the last statement the server answered while this instance led. */
  private confirmedAt: number | undefined;
  private keepalive: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PgCoordinationOptions) {}

  private get leaseMs(): number {
    return this.opts.leaseMs ?? LEADER_LEASE_MS;
  }

  /** Records a change of leadership (for /metrics) and starts or stops the keepalive. */
  private setLeading(now: boolean, why?: string): void {
    if (now === this.leading) return;
    this.leading = now;
    this.changes++;
    if (now) {
      this.opts.log?.info('leading the Talos steps');
      this.keepalive = setInterval(() => void this.confirm(), this.opts.keepaliveMs ?? Math.floor(this.leaseMs / 3));
      this.keepalive.unref();
    } else {
      clearInterval(this.keepalive);
      this.keepalive = undefined;
      if (why) this.opts.log?.warn(why);
    }
  }

  /** One round trip on the leader's session: while it answers, the session (and so the lock) is ours. */
  private async confirm(): Promise<boolean> {
    const s = this.session;
    if (!this.leading || !s?.alive) return false;
    try {
      await s.rows('SELECT 1 AS alive');
      this.confirmedAt = performance.now();
      return true;
    } catch (err) {
      this.setLeading(false, `lost the database session: no longer leading the Talos steps (${(err as Error).message})`);
      return false;
    }
  }

  stats(): LeadershipStats {
    return {
      leading: this.leading,
      changes: this.changes,
      confirmedAgoMs: this.confirmedAt === undefined ? undefined : Math.round(performance.now() - this.confirmedAt),
    };
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The current session, opened (and the schema migrated) if there is none or it died. */
  private async connected(): Promise<PsqlSession> {
    if (this.closed) throw new Error('database coordination closed');
    if (this.session?.alive) return this.session;
    this.setLeading(false, 'lost the database session: no longer leading the Talos steps');
    const s = new PsqlSession(this.opts.conninfo);
    this.session = s;
    try {
      await migratePg(s);
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  /** The live session this instance leads on; shared writes go nowhere else. */
  private leaderSession(): PsqlSession {
    if (this.leading && this.confirmedAt !== undefined && performance.now() - this.confirmedAt > this.leaseMs) {
      // Hung past the lease: the server may already have ended the session and let another instance lead.
      this.setLeading(false, `no lock confirmation for over ${this.leaseMs} ms: stepping down`);
    }
    if (!this.leading || !this.session?.alive) {
      this.setLeading(false);
      throw new Error('not leading the Talos steps: refusing a shared write');
    }
    return this.session;
  }

  async lead(): Promise<boolean> {
    try {
      const s = await this.connected();
      if (this.leading) {
        await s.rows('SELECT 1 AS alive'); // the lock lives as long as this session answers
      } else {
        // Taking the lock and arming the server's idle timeout are one statement: no moment leads without it.
        const lease = `${this.leaseMs}ms`;
        const name = this.opts.instanceName ?? `rackboot ${hostname()} pid ${process.pid}`;
        const [row] = await s.rows<{ got: boolean }>(`SELECT got,
            CASE WHEN got THEN set_config('idle_session_timeout', $1, false) END AS idle,
            CASE WHEN got THEN set_config('idle_in_transaction_session_timeout', $1, false) END AS idle_tx,
            CASE WHEN got THEN set_config('application_name', $2, false) END AS app
          FROM (SELECT pg_try_advisory_lock($3) AS got) AS attempt`, [lease, name.slice(0, 63), TALOS_LEADER_LOCK]);
        this.setLeading(row?.got === true);
      }
      if (this.leading) {
        this.confirmedAt = performance.now();
        await this.mirrorDown(s);
      }
      return this.leading;
    } catch (err) {
      this.setLeading(false);
      this.opts.log?.warn({ err }, 'database unavailable: not leading the Talos steps');
      return false;
    }
  }

  /** Copies the shared cluster_state into the local store, so a new leader's local readers start from it. */
  private async mirrorDown(s: PsqlSession): Promise<void> {
    for (const r of await s.rows<{ key: string; value: string }>('SELECT key, value FROM cluster_state')) {
      if (this.opts.local.getClusterState(r.key) !== r.value) this.opts.local.setClusterState(r.key, r.value);
    }
  }

  async get(key: string): Promise<string | undefined> {
    const s = await this.connected();
    const [row] = await s.rows<{ value: string }>('SELECT value FROM cluster_state WHERE key = $1', [key]);
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.leaderSession().exec(`INSERT INTO cluster_state (key, value, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, [key, value, this.now()]);
    this.opts.local.setClusterState(key, value);
  }

  /**
   * One statement: the row is locked and the condition re-checked on its
   * newest version (READ COMMITTED upsert), so of two instances claiming at
   * once exactly one gets a row back. The claim records the session it was
   * taken on; a claim whose session no longer holds leadership (its appliance
   * died) is void at once rather than after its expiry, since whoever leads
   * now is the only one who may act on it.
   */
  async claim(key: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    const rows = await this.leaderSession().rows<{ value: string }>(`INSERT INTO cluster_state (key, value, updated_at)
      VALUES ($1, jsonb_build_object('owner', $2::text, 'until', $3::bigint, 'pid', pg_backend_pid())::text, $4)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
      WHERE (cluster_state.value::jsonb ->> 'owner') IN ('', $2::text)
        OR (cluster_state.value::jsonb ->> 'until')::bigint <= $4
        OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $5::bigint::oid
          AND l.objsubid = 1 AND l.granted AND l.pid = (cluster_state.value::jsonb ->> 'pid')::int)
      RETURNING value`, [key, owner, now + ttlMs, now, TALOS_LEADER_LOCK]);
    if (rows[0]) this.opts.local.setClusterState(key, rows[0].value);
    return rows.length === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    const rows = await this.leaderSession().rows(`UPDATE cluster_state SET value = $1, updated_at = $2
      WHERE key = $3 AND (value::jsonb ->> 'owner') = $4 RETURNING key`, [FREE_CLAIM, this.now(), key, owner]);
    if (rows.length) this.opts.local.setClusterState(key, FREE_CLAIM);
  }

  // branch pg-rollouts: the driver id of a shared rollout (pg/pg-rollouts.ts).
  /** The backend pid of the session holding the leader lock; refused when this instance does not lead. */
  async sessionPid(): Promise<number> {
    const [row] = await this.leaderSession().rows<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return Number(row!.pid);
  }

  /** Ends the session (the server frees the lock). */
  async close(): Promise<void> {
    this.closed = true;
    this.setLeading(false);
    await this.session?.close();
  }

  /** Tests: the session dies as if this appliance were killed. */
  async killSession(): Promise<void> {
    await this.session?.kill();
  }
}
