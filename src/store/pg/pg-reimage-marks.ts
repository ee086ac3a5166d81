// Reimage marks in the shared PostgreSQL (scaleOut.postgres), on the
// appliance's PgStore session: the mark row is written in the same
// PostgreSQL transaction as the node's move to reimage-pending, so no
// appliance ever sees the one without the other.
import {
  INSERT_COLUMNS, isCurrentFor, markValues, SqliteReimageMarks, toReimageMark,
  type NewReimageMark, type ReimageMark, type ReimageMarkStore,
} from '../reimage-marks.js';
import type { NodeRecord, Row, Store } from '../store.js';
import type { PgStore } from './pg-store.js';
import { SharedStore } from './shared-store.js';

/** Two operators marking the last two control planes on two appliances: one marks, then the other sees it (isLastEtcdMember). */
const MARKING_LOCK = "SELECT pg_advisory_xact_lock(hashtext('rackboot.reimage-mark'))";

export class PgReimageMarks implements ReimageMarkStore {
  private readonly pg: PgStore;

  /** `store`: the appliance's shared store; its SQLite copy of the node moves after the COMMIT (nothing of it if rolled back). */
  constructor(private readonly store: SharedStore) {
    this.pg = store.shared;
  }

  marking<T>(fn: () => T): T {
    return this.store.sharedTransaction(() => {
      this.pg.sharedQuery(MARKING_LOCK);
      return fn();
    });
  }

  record(mark: NewReimageMark): ReimageMark {
    const [row] = this.pg.sharedQuery<{ id: number }>(`INSERT INTO reimage_marks ${INSERT_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, markValues(mark));
    return { id: Number(row!.id), ...mark };
  }

  current(node: Pick<NodeRecord, 'name' | 'stateSince'>): ReimageMark | undefined {
    const [row] = this.pg.sharedQuery<Row>('SELECT * FROM reimage_marks WHERE node = $1 ORDER BY id DESC LIMIT 1', [node.name]);
    return isCurrentFor(row && toReimageMark(row), node);
  }
}

/** The marks where this store keeps its nodes: PostgreSQL's with scaleOut.postgres, else the SQLite file's. */
export function reimageMarksOf(store: Store): ReimageMarkStore {
  return store instanceof SharedStore ? new PgReimageMarks(store) : new SqliteReimageMarks(store.db);
}
