// The SQLite readers' /metrics totals count only the events appended since
// the previous scrape: these check that the running counts match a count of
// the whole table after every kind of append, from this connection and from
// another one (the CLI writes events on its own), and after a restart.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { inventory, nodeSpec } from '../lifecycle/fixtures.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-readers-');

/** What the totals were before they were counted incrementally: the whole table. */
function fullCount(store: Store) {
  const n = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  return {
    reimagesRequested: n(`SELECT count(*) AS n FROM events WHERE kind='reimage' AND json_extract(data_json,'$.step')='requested'`),
    nodeFailures: n(`SELECT count(*) AS n FROM events WHERE kind='state' AND json_extract(data_json,'$.to')='failed'`),
    discovered: n('SELECT count(*) AS n FROM discovered'),
  };
}

describe('eventTotals on SQLite', () => {
  it('adds the events appended since the last scrape, from any connection, and starts over correctly after a restart', () => {
    const file = join(tmp(), 'rb.db');
    const store = new Store(file);
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:02:01'), nodeSpec('w2', 'aa:bb:cc:00:02:02')]));
    expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 0, nodeFailures: 0, discovered: 0 });

    store.appendEvent({ node: 'w1', mac: null, kind: 'reimage', message: 'asked', data: { step: 'requested' } });
    store.appendEvent({ node: 'w1', mac: null, kind: 'reimage', message: 'reset', data: { step: 'reset' } });
    store.setState('w1', 'failed', 'test');
    store.recordDiscovered({ mac: 'aa:bb:cc:99:00:01', source: 'dhcp' });
    expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 1, nodeFailures: 1, discovered: 1 });
    // A scrape with nothing new changes nothing.
    expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 1, nodeFailures: 1, discovered: 1 });

    // Another connection (the CLI's) appends; this one's next scrape counts those too.
    const cli = new Store(file);
    cli.appendEvent({ node: 'w2', mac: null, kind: 'reimage', message: 'asked', data: { step: 'requested' } });
    cli.setState('w2', 'failed', 'from the cli');
    cli.close();
    store.setState('w1', 'registered', 'back');
    store.setState('w1', 'failed', 'again');
    expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 2, nodeFailures: 3, discovered: 1 });
    expect(store.readers.eventTotals()).toEqual(fullCount(store));
    store.close();

    const restarted = new Store(file);
    expect(restarted.readers.eventTotals()).toEqual({ reimagesRequested: 2, nodeFailures: 3, discovered: 1 });
    expect(restarted.readers.eventTotals()).toEqual(fullCount(restarted));
    restarted.close();
  });

  it('keeps nothing it read inside an open transaction: those rows may roll back and their ids be used again', () => {
    const store = new Store(join(tmp(), 'rb.db'));
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:02:01')]));
    store.db.exec('BEGIN');
    store.appendEvent({ node: 'w1', mac: null, kind: 'reimage', message: 'asked', data: { step: 'requested' } });
    expect(store.readers.eventTotals().reimagesRequested).toBe(1);
    store.db.exec('ROLLBACK');
    store.setState('w1', 'failed', 'after the rollback');
    expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 0, nodeFailures: 1, discovered: 0 });
    expect(store.readers.eventTotals()).toEqual(fullCount(store));
    store.close();
  });
});
