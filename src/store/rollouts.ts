// Rollouts in the store: one row per rollout, one per node in it. Every
// step is written here before it is acted on (day2/rollout.ts), so after a
// restart the rows say exactly how far each node got.
import type Database from 'better-sqlite3';
import { processAlive } from '../process-alive.js';

export type RolloutState = 'running' | 'paused' | 'done';
/**
 * pending: nothing sent. calling: the upgrade is about to be sent (or was,
 * and no answer was recorded). installed: LifecycleService installed it,
 * the reboot is next. called: the node accepted it (or was rebooted into
 * it); waiting for it to come back on the target and healthy. done.
 * failed: the node refused, the installer failed, or whether the call got
 * through is unknown: only the operator's --resume sends it again.
 */
export type NodeStep = 'pending' | 'calling' | 'installed' | 'called' | 'done' | 'failed';

export interface RolloutRecord {
  id: number;
  kind: string;
  targetVersion: string;
  schematic: string;
  image: string;
  state: RolloutState;
  reason: string;
  assetsReady: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface RolloutNodeRecord {
  rolloutId: number;
  node: string;
  role: 'controlplane' | 'worker';
  ord: number;
  state: NodeStep;
  versionBefore: string;
  versionAfter: string;
  reason: string;
  startedAt: number | null;
  finishedAt: number | null;
}

type Row = Record<string, unknown>;

export const rollout = (r: Row): RolloutRecord => ({
  id: r.id as number, kind: r.kind as string, targetVersion: r.target_version as string, schematic: r.schematic as string,
  image: r.image as string, state: r.state as RolloutState, reason: r.reason as string, assetsReady: r.assets_ready === 1,
  createdAt: r.created_at as number, updatedAt: r.updated_at as number,
});

export const nodeRow = (r: Row): RolloutNodeRecord => ({
  rolloutId: r.rollout_id as number, node: r.node as string, role: r.role as RolloutNodeRecord['role'], ord: r.ord as number,
  state: r.state as NodeStep, versionBefore: r.version_before as string, versionAfter: r.version_after as string,
  reason: r.reason as string, startedAt: r.started_at as number | null, finishedAt: r.finished_at as number | null,
});

/** The rollout not yet done, if any: there is at most one. */
export function activeRollout(db: Database.Database): RolloutRecord | undefined {
  const r = db.prepare(`SELECT * FROM rollouts WHERE state != 'done' ORDER BY id DESC LIMIT 1`).get() as Row | undefined;
  return r ? rollout(r) : undefined;
}

export function latestRollout(db: Database.Database): RolloutRecord | undefined {
  const r = db.prepare('SELECT * FROM rollouts ORDER BY id DESC LIMIT 1').get() as Row | undefined;
  return r ? rollout(r) : undefined;
}

export function getRollout(db: Database.Database, id: number): RolloutRecord | undefined {
  const r = db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as Row | undefined;
  return r ? rollout(r) : undefined;
}

export function rolloutNodes(db: Database.Database, id: number): RolloutNodeRecord[] {
  return (db.prepare('SELECT * FROM rollout_nodes WHERE rollout_id = ? ORDER BY ord').all(id) as Row[]).map(nodeRow);
}

export interface NewRollout {
  kind: string;
  targetVersion: string;
  schematic: string;
  image: string;
  nodes: { node: string; role: RolloutNodeRecord['role']; versionBefore: string; done: boolean }[];
}

/** Creates a running rollout; refuses while another is not done. */
export function createRollout(db: Database.Database, r: NewRollout, now = Date.now()): number {
  return db.transaction(() => {
    const open = activeRollout(db);
    if (open) throw new Error(`rollout ${open.id} (${open.kind} to ${open.targetVersion}) is ${open.state}: resume it or let it finish first`);
    const id = Number(db.prepare(
      `INSERT INTO rollouts (kind, target_version, schematic, image, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'running', ?, ?)`,
    ).run(r.kind, r.targetVersion, r.schematic, r.image, now, now).lastInsertRowid);
    const ins = db.prepare(`INSERT INTO rollout_nodes (rollout_id, node, role, ord, state, version_before, version_after, reason, finished_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    r.nodes.forEach((n, i) => ins.run(id, n.node, n.role, i, n.done ? 'done' : 'pending', n.versionBefore,
      n.done ? n.versionBefore : '', n.done ? 'already on the target version' : '', n.done ? now : null));
    return id;
  }).immediate();
}

export function setRolloutState(db: Database.Database, id: number, state: RolloutState, reason = '', now = Date.now()): void {
  db.prepare('UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?').run(state, reason, now, id);
}

export function markAssetsReady(db: Database.Database, id: number, now = Date.now()): void {
  db.prepare('UPDATE rollouts SET assets_ready = 1, updated_at = ? WHERE id = ?').run(now, id);
}

export function setNodeStep(db: Database.Database, id: number, node: string, state: NodeStep,
  extra: { reason?: string; versionAfter?: string; started?: number; finished?: number } = {}): void {
  db.prepare(`UPDATE rollout_nodes SET state = ?, reason = ?, version_after = COALESCE(?, version_after),
      started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at) WHERE rollout_id = ? AND node = ?`)
    .run(state, extra.reason ?? '', extra.versionAfter ?? null, extra.started ?? null, extra.finished ?? null, id, node);
}

/**
 * Takes the rollout for this process. Refused while another live process
 * (or another run in this one) holds it; a dead holder's claim is taken over.
 * Returns the pid that holds it when refused.
 */
export function claimRollout(db: Database.Database, id: number, pid = process.pid): { ok: true } | { ok: false; holder: number } {
  return db.transaction(() => {
    const row = db.prepare('SELECT driver_pid FROM rollouts WHERE id = ?').get(id) as { driver_pid: number | null } | undefined;
    const holder = row?.driver_pid;
    if (holder && processAlive(holder)) return { ok: false as const, holder };
    db.prepare('UPDATE rollouts SET driver_pid = ? WHERE id = ?').run(pid, id);
    return { ok: true as const };
  }).immediate();
}

export function releaseRollout(db: Database.Database, id: number, pid = process.pid): void {
  db.prepare('UPDATE rollouts SET driver_pid = NULL WHERE id = ? AND driver_pid = ?').run(id, pid);
}

/**
 * The rollout rows where a store keeps them: the functions above on an
 * appliance's SQLite, or the shared PostgreSQL (pg/pg-rollouts.ts). The
 * engines (rollout.ts, k8s-roll.ts) claim a rollout with a driver id before
 * running it; only the driver's writes are fenced by that claim.
 */
export interface RolloutStore {
  active(): RolloutRecord | undefined;
  latest(): RolloutRecord | undefined;
  get(id: number): RolloutRecord | undefined;
  nodes(id: number): RolloutNodeRecord[];
  create(r: NewRollout, now?: number): number;
  setState(id: number, state: RolloutState, reason?: string, now?: number): void;
  markAssetsReady(id: number, now?: number): void;
  setNodeStep(id: number, node: string, state: NodeStep, extra?: Parameters<typeof setNodeStep>[4]): void;
  /** Several writes, all or none. */
  transaction<T>(fn: () => T): T;
  /** Takes the rollout for `driver`; refused while another live driver holds it (see claimRollout). */
  claim(id: number, driver: number): { ok: true } | { ok: false; holder: number };
  release(id: number, driver: number): void;
}

/** The SQLite rows: the same statements as the functions above; a driver is a process id. */
export class SqliteRollouts implements RolloutStore {
  constructor(private readonly db: Database.Database) {}
  active() { return activeRollout(this.db); }
  latest() { return latestRollout(this.db); }
  get(id: number) { return getRollout(this.db, id); }
  nodes(id: number) { return rolloutNodes(this.db, id); }
  create(r: NewRollout, now?: number) { return createRollout(this.db, r, now); }
  setState(id: number, state: RolloutState, reason?: string, now?: number) { setRolloutState(this.db, id, state, reason, now); }
  markAssetsReady(id: number, now?: number) { markAssetsReady(this.db, id, now); }
  setNodeStep(id: number, node: string, state: NodeStep, extra?: Parameters<typeof setNodeStep>[4]) { setNodeStep(this.db, id, node, state, extra); }
  transaction<T>(fn: () => T): T { return this.db.transaction(fn)(); }
  claim(id: number, driver: number) { return claimRollout(this.db, id, driver); }
  release(id: number, driver: number) { releaseRollout(this.db, id, driver); }
}
