// Rollouts in the shared PostgreSQL (scaleOut.postgres), on the appliance's
// PgStore session: every appliance sees the same rollout, and whichever
// leads the Talos steps runs it (day2/rollout-service.ts).
//
// The driver of a rollout is the backend pid of the leader's session
// (PgCoordination.sessionPid), the one holding the Talos leader lock. A claim
// is taken only while that pid holds the lock, and a claim whose pid no
// longer holds it (its appliance died, its session ended) is void at once, as
// the bootstrap claim is (coordination.ts). Every write the driver makes
// while it runs carries the same condition: an appliance that lost the lock
// cannot record a step, so it never records 'calling' and so never sends the
// call that follows it. A pid is a number the server may give again once its
// session ended: the new leader's session could get the old driver's pid while
// the old appliance's process still runs (a partition, not a kill). So the
// fence also asks that the session now behind that pid began no later than
// this process's claim (pg_stat_activity.backend_start <= the claim time, both
// the server's clock, the claim time kept in memory from the claim).
import type Database from 'better-sqlite3';
import {
  nodeRow, rollout, SqliteRollouts,
  type NewRollout, type NodeStep, type RolloutNodeRecord, type RolloutRecord, type RolloutState, type RolloutStore,
} from '../rollouts.js';
import { Store, type Row } from '../store.js';
import { TALOS_LEADER_LOCK } from './coordination.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

/** Two appliances creating a rollout at once: one creates, the other sees it open. */
const CREATING_LOCK = "SELECT pg_advisory_xact_lock(hashtext('rackboot.rollout-create'))";

/** SQL: backend `pid` holds the Talos leader lock now. */
const holdsLeaderLock = (pid: string) => `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = 0
  AND l.objid = ${TALOS_LEADER_LOCK}::bigint::oid AND l.objsubid = 1 AND l.granted AND l.pid = ${pid})`;

/** A write by a driver whose claim no longer holds: it stopped leading, and must stop acting. */
export class RolloutClaimLostError extends Error {
  override name = 'RolloutClaimLostError';
}

type StepExtra = Parameters<RolloutStore['setNodeStep']>[3];

export class PgRollouts implements RolloutStore {
  /** Rollouts this instance claimed, by id: the driver pid its writes are fenced by, and when (the server's clock, as text) it claimed. */
  private readonly driving = new Map<number, { pid: number; claimedAt: string }>();

  constructor(private readonly pg: PgStore) {}

  private one(sql: string, params: readonly unknown[] = []): RolloutRecord | undefined {
    const [r] = this.pg.sharedQuery<Row>(sql, params);
    return r ? rollout(r) : undefined;
  }

  active() { return this.one(`SELECT * FROM rollouts WHERE state != 'done' ORDER BY id DESC LIMIT 1`); }
  latest() { return this.one('SELECT * FROM rollouts ORDER BY id DESC LIMIT 1'); }
  get(id: number) { return this.one('SELECT * FROM rollouts WHERE id = $1', [id]); }

  nodes(id: number): RolloutNodeRecord[] {
    return this.pg.sharedQuery<Row>('SELECT * FROM rollout_nodes WHERE rollout_id = $1 ORDER BY ord', [id]).map(nodeRow);
  }

  create(r: NewRollout, now = Date.now()): number {
    return this.pg.transaction(() => {
      this.pg.sharedQuery(CREATING_LOCK);
      const open = this.active();
      if (open) throw new Error(`rollout ${open.id} (${open.kind} to ${open.targetVersion}) is ${open.state}: resume it or let it finish first`);
      const [row] = this.pg.sharedQuery<{ id: number }>(`INSERT INTO rollouts (kind, target_version, schematic, image, state, created_at, updated_at)
        VALUES ($1, $2, $3, $4, 'running', $5, $5) RETURNING id`, [r.kind, r.targetVersion, r.schematic, r.image, now]);
      const id = Number(row!.id);
      r.nodes.forEach((n, i) => this.pg.sharedQuery(`INSERT INTO rollout_nodes (rollout_id, node, role, ord, state, version_before, version_after, reason, finished_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [id, n.node, n.role, i, n.done ? 'done' : 'pending', n.versionBefore,
        n.done ? n.versionBefore : '', n.done ? 'already on the target version' : '', n.done ? now : null]));
      return id;
    });
  }

  /** `sql` (an UPDATE … WHERE …, with `$fence` where the driver's condition goes); refused with RolloutClaimLostError once this instance's claim is void. */
  private write(id: number, sql: string, params: unknown[]): void {
    const claim = this.driving.get(id);
    if (claim === undefined) {
      this.pg.sharedQuery(sql.replace('$fence', () => 'TRUE'), params);
      return;
    }
    const at = params.length + 1;
    const fence = `EXISTS (SELECT 1 FROM rollouts d WHERE d.id = ${id} AND d.driver_pid = $${at}) AND ${holdsLeaderLock(`$${at}`)}
      AND (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = $${at}) <= $${at + 1}::timestamptz`;
    const done = this.pg.sharedQuery(`${sql.replace('$fence', () => fence)} RETURNING 1 AS ok`, [...params, claim.pid, claim.claimedAt]);
    if (done.length === 0) {
      this.driving.delete(id);
      throw new RolloutClaimLostError(`rollout ${id}: this appliance no longer leads the Talos steps (session ${claim.pid} lost its lock, or that pid is another session's now); the new leader resumes it`);
    }
  }

  setState(id: number, state: RolloutState, reason = '', now = Date.now()): void {
    this.write(id, 'UPDATE rollouts SET state = $1, reason = $2, updated_at = $3 WHERE id = $4 AND $fence', [state, reason, now, id]);
  }

  markAssetsReady(id: number, now = Date.now()): void {
    this.write(id, 'UPDATE rollouts SET assets_ready = 1, updated_at = $1 WHERE id = $2 AND $fence', [now, id]);
  }

  setNodeStep(id: number, node: string, state: NodeStep, extra: StepExtra = {}): void {
    this.write(id, `UPDATE rollout_nodes SET state = $1, reason = $2, version_after = COALESCE($3, version_after),
        started_at = COALESCE($4, started_at), finished_at = COALESCE($5, finished_at) WHERE rollout_id = $6 AND node = $7 AND $fence`,
    [state, extra?.reason ?? '', extra?.versionAfter ?? null, extra?.started ?? null, extra?.finished ?? null, id, node]);
  }

  transaction<T>(fn: () => T): T {
    return this.pg.transaction(fn);
  }

  /** `driver`: the backend pid of this appliance's leader session; taken only while it holds the leader lock. */
  claim(id: number, driver: number): { ok: true } | { ok: false; holder: number } {
    return this.pg.transaction(() => {
      const [row] = this.pg.sharedQuery<{ holder: number | null; live: boolean }>(`SELECT driver_pid AS holder,
          driver_pid IS NOT NULL AND ${holdsLeaderLock('driver_pid')} AS live FROM rollouts WHERE id = $1 FOR UPDATE`, [id]);
      if (row?.holder != null && row.live && row.holder !== driver) return { ok: false as const, holder: row.holder };
      // clock_timestamp(), not now(): the driver's session began before this statement found it holding the lock, not necessarily before this transaction.
      const [taken] = this.pg.sharedQuery<{ claimed_at: string }>(`UPDATE rollouts SET driver_pid = $1 WHERE id = $2 AND ${holdsLeaderLock('$1')}
        RETURNING clock_timestamp()::text AS claimed_at`, [driver, id]);
      if (!taken) return { ok: false as const, holder: row?.holder ?? 0 };
      this.driving.set(id, { pid: driver, claimedAt: taken.claimed_at });
      return { ok: true as const };
    });
  }

  release(id: number, driver: number): void {
    this.driving.delete(id);
    this.pg.sharedQuery('UPDATE rollouts SET driver_pid = NULL WHERE id = $1 AND driver_pid = $2', [id, driver]);
  }
}

/** The rollouts where this store keeps its nodes: PostgreSQL's with scaleOut.postgres, else the SQLite file's. */
export function rolloutsOf(at: Store | Database.Database): RolloutStore {
  if (at instanceof SharedStore) return new PgRollouts(at.shared);
  return new SqliteRollouts(at instanceof Store ? at.db : at);
}
