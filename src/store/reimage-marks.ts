// The operator's reimage marks: one row per "wipe this node and install it
// again", written in the transaction that moves the node to reimage-pending.
// Its id is what a Reset is sent once for (src/talos/reset-intent.ts), and
// it keeps what a cancel restores. With scaleOut.postgres the rows are in
// the shared database (pg/pg-reimage-marks.ts), so whichever appliance leads
// or cancels reads the mark the operator made on any of them.
import type Database from 'better-sqlite3';
import type { NodeState } from '../lifecycle/states.js';
import type { NodeRecord, Row } from './store.js';

export interface ReimageMark {
  id: number;
  node: string;
  /** The node's state_since as the marking transaction wrote it: the mark is current while the node's still equals it. */
  stateSince: number;
  markedAt: number;
  by: string;
  reason: string;
  previousState: NodeState;
  previousMarked: boolean;
  /** Set when the mark destroys the last etcd member: the bootstrap records it cleared (src/lifecycle/etcd-loss.ts). */
  bootstrapBefore?: Record<string, string>;
}

export type NewReimageMark = Omit<ReimageMark, 'id'>;

export interface ReimageMarkStore {
  /** `fn` (the check, the state change, the mark) in one transaction, one marking at a time. */
  marking<T>(fn: () => T): T;
  record(mark: NewReimageMark): ReimageMark;
  /**
   * The mark that put the node in its current reimage-pending: the latest
   * row made with the node's current state_since. Undefined when the node
   * got there without one (a store written by an older version).
   */
  current(node: Pick<NodeRecord, 'name' | 'stateSince'>): ReimageMark | undefined;
}

export function toReimageMark(row: Row): ReimageMark {
  const bootstrap = row.bootstrap_before_json as string | null;
  return {
    id: Number(row.id), node: row.node as string, stateSince: Number(row.state_since), markedAt: Number(row.marked_at),
    by: row.marked_by as string, reason: row.reason as string, previousState: row.previous_state as NodeState,
    previousMarked: Number(row.previous_marked) === 1,
    ...(bootstrap ? { bootstrapBefore: JSON.parse(bootstrap) as Record<string, string> } : {}),
  };
}

/** The row's values in the column order of INSERT_COLUMNS. */
export function markValues(m: NewReimageMark): unknown[] {
  return [m.node, m.stateSince, m.markedAt, m.by, m.reason, m.previousState, m.previousMarked ? 1 : 0, m.bootstrapBefore ? JSON.stringify(m.bootstrapBefore) : null];
}

export const INSERT_COLUMNS = '(node, state_since, marked_at, marked_by, reason, previous_state, previous_marked, bootstrap_before_json)';

export const isCurrentFor = (m: ReimageMark | undefined, node: Pick<NodeRecord, 'stateSince'>) => (m && m.stateSince === node.stateSince ? m : undefined);

/** The embedded default: the appliance's own SQLite. */
export class SqliteReimageMarks implements ReimageMarkStore {
  constructor(private readonly db: Database.Database) {}

  marking<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  record(mark: NewReimageMark): ReimageMark {
    const id = Number(this.db.prepare(`INSERT INTO reimage_marks ${INSERT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(...markValues(mark)).lastInsertRowid);
    return { id, ...mark };
  }

  current(node: Pick<NodeRecord, 'name' | 'stateSince'>): ReimageMark | undefined {
    const row = this.db.prepare('SELECT * FROM reimage_marks WHERE node = ? ORDER BY id DESC LIMIT 1').get(node.name) as Row | undefined;
    return isCurrentFor(row && toReimageMark(row), node);
  }
}
