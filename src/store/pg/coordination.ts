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
// Local readers not ported to the shared store yet (health gate, state
// machine, admin page, /metrics) read the local SQLite cluster_state: every
// shared value this instance writes, or finds when it leads, is mirrored there.
import type { Logger } from '../../log.js';
import type { ClusterStateStore } from '../cluster-state-store.js';
import { FREE_CLAIM } from '../cluster-state-store.js';
import type { Store } from '../store.js';
import type { Leadership } from '../../talos/leadership.js';
import { migratePg } from './migrations.js';
import { PsqlSession } from './psql-session.js';

/** The advisory lock key for "runs the Talos steps"; one cluster per database. */
export const TALOS_LEADER_LOCK = 0x7261636b; // 'rack'

export interface PgCoordinationOptions {
  /** libpq conninfo or postgres:// URI. */
  conninfo: string;
  /** This instance's own store, where shared values are mirrored for local readers. */
  local: Store;
  log?: Logger;
  now?: () => number;
}

export class PgCoordination implements Leadership, ClusterStateStore {
  private session: PsqlSession | undefined;
  private leading = false;
  private closed = false;

  constructor(private readonly opts: PgCoordinationOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The current session, opened (and the schema migrated) if there is none or it died. */
  private async connected(): Promise<PsqlSession> {
    if (this.closed) throw new Error('database coordination closed');
    if (this.session?.alive) return this.session;
    if (this.leading) this.opts.log?.warn('lost the database session: no longer leading the Talos steps');
    this.leading = false;
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
    if (!this.leading || !this.session?.alive) {
      this.leading = false;
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
        const [row] = await s.rows<{ got: boolean }>('SELECT pg_try_advisory_lock($1) AS got', [TALOS_LEADER_LOCK]);
        this.leading = row?.got === true;
        if (this.leading) this.opts.log?.info('leading the Talos steps');
      }
      if (this.leading) await this.mirrorDown(s);
      return this.leading;
    } catch (err) {
      this.leading = false;
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

  /** Ends the session (the server frees the lock). */
  async close(): Promise<void> {
    this.closed = true;
    this.leading = false;
    await this.session?.close();
  }

  /** Tests: the session dies as if this appliance were killed. */
  async killSession(): Promise<void> {
    await this.session?.kill();
  }
}
