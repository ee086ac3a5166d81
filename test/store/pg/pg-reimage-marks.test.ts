// Reimage marks with two appliances on one PostgreSQL store (SharedStore,
// each with its own SQLite): a mark made on one is the current mark on the
// other, and a cancel made there restores what the mark recorded.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Inventory, NodeSpec } from '../../../src/inventory/types.js';
import { StateMachine } from '../../../src/lifecycle/machine.js';
import { Reimager } from '../../../src/lifecycle/reimage.js';
import { PgReimageMarks, reimageMarksOf } from '../../../src/store/pg/pg-reimage-marks.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { SyncPgSession } from '../../../src/store/pg/sync-bridge.js';
import { SqliteReimageMarks } from '../../../src/store/reimage-marks.js';
import { Store } from '../../../src/store/store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const worker: NodeSpec = { name: 'w1', mac: '52:54:00:00:00:21', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] };
const inventory: Inventory = { cluster: { name: 't' } as Inventory['cluster'], nodes: [worker] };
const tmp = tempDirs('rb-marks-');

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());
afterEach(() => vi.restoreAllMocks());

function twoAppliances(db: string): { a: SharedStore; b: SharedStore; close(): void } {
  const conninfo = pg.createDatabase(db);
  const a = new SharedStore(join(tmp(), 'a.db'), conninfo);
  const b = new SharedStore(join(tmp(), 'b.db'), conninfo);
  a.syncInventory(inventory);
  b.syncInventory(inventory);
  return { a, b, close: () => { a.close(); b.close(); } };
}

describe('reimage marks on a shared store', () => {
  it('the marks of a SharedStore are PostgreSQL\'s, a plain Store\'s its SQLite file\'s', () => {
    const { a, close } = twoAppliances('marks_kind');
    const local = new Store(':memory:');
    try {
      expect(reimageMarksOf(a)).toBeInstanceOf(PgReimageMarks);
      expect(reimageMarksOf(local)).toBeInstanceOf(SqliteReimageMarks);
    } finally {
      local.close();
      close();
    }
  });

  it('a mark made on one appliance is current on the other; a cancel there restores the state it recorded', () => {
    const { a, b, close } = twoAppliances('marks_cancel');
    try {
      a.setState('w1', 'ready', 'installed and healthy (test)', { markedForInstall: false });
      const marked = new Reimager(new StateMachine(a)).mark('w1', 'disk swap', 'op-a').node;
      expect(marked).toMatchObject({ state: 'reimage-pending', markedForInstall: true });

      const onB = reimageMarksOf(b).current(b.getNode('w1')!);
      expect(onB).toMatchObject({ node: 'w1', by: 'op-a', reason: 'disk swap', previousState: 'ready', previousMarked: false, stateSince: marked.stateSince });
      expect(onB).toEqual(reimageMarksOf(a).current(a.getNode('w1')!));

      // b's SQLite never saw the request event: only the shared mark says the node was ready.
      const back = new Reimager(new StateMachine(b)).cancel('w1', 'op-b');
      expect(back).toMatchObject({ state: 'ready', markedForInstall: false });
      expect(a.getNode('w1')).toMatchObject({ state: 'ready', markedForInstall: false });
      // Once the node has left that reimage-pending, the mark is no longer current anywhere.
      expect(reimageMarksOf(a).current(a.getNode('w1')!)).toBeUndefined();
    } finally {
      close();
    }
  });

  it('each mark has its own id, the same on every appliance, even when two marks have one state_since', () => {
    const conninfo = pg.createDatabase('marks_ids');
    // A clock that does not move between the two marks (as after a step back): state_since alone cannot tell them apart.
    const frozen = () => 1_700_000_000_000;
    const a = new SharedStore(join(tmp(), 'a.db'), conninfo, { now: frozen });
    const b = new SharedStore(join(tmp(), 'b.db'), conninfo, { now: frozen });
    try {
      a.syncInventory(inventory);
      a.setState('w1', 'installed', 'test', { markedForInstall: false });
      new Reimager(new StateMachine(a)).mark('w1', 'first', 'op-a');
      const first = reimageMarksOf(b).current(b.getNode('w1')!)!;
      new Reimager(new StateMachine(b)).cancel('w1', 'op-b');
      new Reimager(new StateMachine(b)).mark('w1', 'second', 'op-b');
      const second = reimageMarksOf(a).current(a.getNode('w1')!)!;
      expect(second.stateSince).toBe(first.stateSince);
      expect(second).toMatchObject({ reason: 'second', by: 'op-b' });
      expect(second.id).toBeGreaterThan(first.id);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a marking that fails after the state change leaves neither the shared row nor the local copy moved', () => {
    const { a, close } = twoAppliances('marks_rollback');
    try {
      a.setState('w1', 'installed', 'test', { markedForInstall: false });
      const marks = reimageMarksOf(a);
      expect(() => marks.marking(() => {
        new StateMachine(a).transition('w1', 'reimage-pending', 'test', { markedForInstall: true });
        throw new Error('the mark row could not be written');
      })).toThrow('could not be written');
      expect(a.getNode('w1')!.state).toBe('installed');
      expect(a.db.prepare("SELECT state FROM nodes WHERE name = 'w1'").get()).toEqual({ state: 'installed' });
    } finally {
      close();
    }
  });

  it('marking never holds the local SQLite write lock while PostgreSQL answers; the local copy follows the COMMIT, or nothing of it on a rollback', () => {
    const { a, close } = twoAppliances('marks_lock');
    // Another writer of a's SQLite file (its DHCP, say) with no patience at all.
    const other = new Database(a.db.name, { timeout: 0 });
    try {
      a.setState('w1', 'ready', 'installed and healthy (test)', { markedForInstall: false });
      const query = SyncPgSession.prototype.query;
      let localWriteDuringMark: unknown = 'not tried';
      vi.spyOn(SyncPgSession.prototype, 'query').mockImplementation(function (this: SyncPgSession, sql: string, params?: readonly unknown[]) {
        if (sql.startsWith('INSERT INTO reimage_marks')) {
          try {
            other.prepare("INSERT INTO cluster_state (key, value, updated_at) VALUES ('probe', 'x', 0) ON CONFLICT(key) DO UPDATE SET value='y'").run();
            localWriteDuringMark = 'written';
          } catch (err) {
            localWriteDuringMark = (err as Error).message;
          }
        }
        return query.call(this, sql, params) as never;
      } as typeof query);
      new Reimager(new StateMachine(a)).mark('w1', 'disk swap', 'op-a');
      expect(localWriteDuringMark).toBe('written');
      // The local copy followed the commit.
      expect(a.db.prepare("SELECT state FROM nodes WHERE name='w1'").get()).toEqual({ state: 'reimage-pending' });
      new Reimager(new StateMachine(a)).cancel('w1', 'op-a');
      expect(a.db.prepare("SELECT state FROM nodes WHERE name='w1'").get()).toEqual({ state: 'ready' });

      // PostgreSQL refuses the mark row: the node moves nowhere, here or there.
      vi.restoreAllMocks();
      vi.spyOn(SyncPgSession.prototype, 'query').mockImplementation(function (this: SyncPgSession, sql: string, params?: readonly unknown[]) {
        if (sql.startsWith('INSERT INTO reimage_marks')) throw new Error('refused (test)');
        return query.call(this, sql, params) as never;
      } as typeof query);
      expect(() => new Reimager(new StateMachine(a)).mark('w1', 'disk swap', 'op-a')).toThrow('refused (test)');
      vi.restoreAllMocks();
      expect(a.getNode('w1')!.state).toBe('ready');
      expect(a.db.prepare("SELECT state FROM nodes WHERE name='w1'").get()).toEqual({ state: 'ready' });
    } finally {
      other.close();
      close();
    }
  });
});
