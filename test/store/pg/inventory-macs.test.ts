// PgStore's set of inventory MACs (src/store/pg/inventory-macs.ts) on a real
// PostgreSQL 15: a MAC no node lists costs no statement once the set is
// read; another appliance's inventory apply reaches the set by NOTIFY; this
// store's own apply is never answered from the set it had before (nor is
// any lookup while it runs); a lost listening session sends every lookup to
// the database until it listens again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELISTEN_MS } from '../../../src/store/pg/inventory-macs.js';
import { PgStore } from '../../../src/store/pg/pg-store.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { inventoryOf, node } from '../../dhcp/context.js';
import { waitFor } from '../../dhcp/netns/harness.js';

const UNKNOWN = '52:54:00:de:ad:01';

/** Counts the statements `store` runs on its synchronous session. */
function counted(store: PgStore): { statements: () => number } {
  let n = 0;
  const target = store as unknown as { q: (sql: string, params?: readonly unknown[]) => unknown[] };
  const q = target.q.bind(store);
  target.q = (sql, params) => (n++, q(sql, params));
  return { statements: () => n };
}

/** Statements one lookup of `mac` ran, and what it found. */
function lookup(store: PgStore, count: { statements: () => number }, mac: string): { name?: string; statements: number } {
  const before = count.statements();
  const found = store.nodeByMac(mac);
  return { name: found?.name, statements: count.statements() - before };
}

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

describe('PgStore: the set of inventory MACs', () => {
  it('answers a MAC no node lists with no statement, and follows another appliance\'s applies', async () => {
    const conninfo = pg.createDatabase('macs_follow');
    const one = new PgStore(conninfo);
    const two = new PgStore(conninfo);
    try {
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      const count = counted(two);
      // Before the set is read, a lookup asks the database.
      expect(lookup(two, count, UNKNOWN)).toEqual({ name: undefined, statements: 2 });
      await two.watchInventoryMacs();
      expect(lookup(two, count, UNKNOWN)).toEqual({ name: undefined, statements: 0 });
      expect(lookup(two, count, '52:54:00:00:00:01')).toEqual({ name: 'a', statements: 1 });

      // The other appliance adds a node with a second NIC: both MACs reach this set.
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), { ...node('b', '52:54:00:00:00:02'), macs: ['52:54:00:00:00:02', '52:54:00:00:01:02'] }]));
      await waitFor(() => two.nodeByMac('52:54:00:00:01:02')?.name === 'b', 10_000, 'the second NIC of the node the other appliance added');
      await waitFor(() => lookup(two, count, UNKNOWN).statements === 0, 10_000, 'the set read again');
      expect(lookup(two, count, '52:54:00:00:01:02')).toEqual({ name: 'b', statements: 2 });
      // And removes it: its MACs are no node's again, from memory.
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      await waitFor(() => lookup(two, count, '52:54:00:00:01:02').statements === 0, 10_000, 'the removed NIC answered from the set');
      expect(two.nodeByMac('52:54:00:00:01:02')).toBeUndefined();
    } finally {
      one.close();
      two.close();
    }
  });

  it('finds a node this store has just added, before its notification arrives', async () => {
    const one = new PgStore(pg.createDatabase('macs_own'));
    try {
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      await one.watchInventoryMacs();
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), node('c', '52:54:00:00:00:03')]));
      expect(one.nodeByMac('52:54:00:00:00:03')?.name).toBe('c');
      // While a sliced apply runs, the set is not used: its COMMIT may land before its notification.
      const count = counted(one);
      await waitFor(() => lookup(one, count, UNKNOWN).statements === 0, 10_000, 'the set read after the first apply');
      const applying = one.syncInventoryInSlices(inventoryOf([node('a', '52:54:00:00:00:01'), node('c', '52:54:00:00:00:03'), node('d', '52:54:00:00:00:04')]));
      expect(lookup(one, count, UNKNOWN).statements).toBe(2);
      await applying;
      expect(one.nodeByMac('52:54:00:00:00:04')?.name).toBe('d');
      await waitFor(() => lookup(one, count, UNKNOWN).statements === 0, 10_000, 'the set read again after the apply');
    } finally {
      one.close();
    }
  });

  it('asks the database while its listening session is lost, and listens again', async () => {
    const conninfo = pg.createDatabase('macs_lost');
    const one = new PgStore(conninfo);
    const two = new PgStore(conninfo);
    const admin = new PsqlSession(conninfo);
    try {
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      const count = counted(two);
      await two.watchInventoryMacs();
      expect(lookup(two, count, UNKNOWN).statements).toBe(0);
      // The server ends the listening session (a restart, an operator's pg_terminate_backend).
      const ended = await admin.rows<{ n: number }>(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%jsonb_array_elements_text%'`);
      expect(ended[0]!.n).toBe(1);
      await waitFor(() => lookup(two, count, UNKNOWN).statements === 2, 5_000, 'lookups asking the database');
      // A node added meanwhile (no notification reaches this store) is found.
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), node('e', '52:54:00:00:00:05')]));
      expect(two.nodeByMac('52:54:00:00:00:05')?.name).toBe('e');
      await waitFor(() => lookup(two, count, UNKNOWN).statements === 0, RELISTEN_MS * 3, 'the set listening and read again');
      expect(lookup(two, count, '52:54:00:00:00:05')).toEqual({ name: 'e', statements: 1 });
    } finally {
      await admin.close();
      one.close();
      two.close();
    }
  });
});
