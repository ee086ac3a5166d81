// The admin page's database round trips on PostgreSQL (pg-ops): each one
// waits on the loop, so a render is counted in statements, not timed. A page
// of nodes is one statement, with each node's newest lease among all its
// MACs and its newest event; a GET /ui is a fixed number however many nodes;
// the /metrics totals are one statement.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { SyncPgSession } from '../../../src/store/pg/sync-bridge.js';
import { inventory, nodeSpec } from '../../lifecycle/fixtures.js';
import { ADMIN_HEADERS, testAppliance } from '../../helpers/appliance.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const tmp = tempDirs('rb-pgreaders-');
let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());
afterEach(() => vi.restoreAllMocks());

describe('the page readers on PostgreSQL', () => {
  it('a page of nodes is one round trip: the newest lease of any of a node\'s MACs, and its newest event', async () => {
    const conninfo = pg.createDatabase('readers_page');
    const store = new SharedStore(join(tmp(), 'a.db'), conninfo);
    const admin = new PsqlSession(conninfo);
    try {
      store.syncInventory(inventory([
        { ...nodeSpec('bond', 'aa:bb:cc:00:01:01'), macs: ['aa:bb:cc:00:01:01', 'aa:bb:cc:00:01:02'] },
        nodeSpec('w1', 'aa:bb:cc:00:02:01'),
        nodeSpec('quiet', 'aa:bb:cc:00:03:01'),
      ]));
      // The bond's second MAC holds the newer lease; w1 has an older one on its only MAC.
      await admin.exec(`INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES
        ('aa:bb:cc:00:01:01', '10.0.0.10', 'bound', 9e12, 100), ('aa:bb:cc:00:01:02', '10.0.0.11', 'bound', 9e12, 200),
        ('aa:bb:cc:00:02:01', '10.0.0.20', 'bound', 9e12, 50)`);
      store.appendEvent({ node: 'w1', mac: null, kind: 'tftp', message: 'sent ipxe.efi' });
      store.appendEvent({ node: 'w1', mac: null, kind: 'http', message: 'served the script', data: { n: 1 } });

      const spy = vi.spyOn(SyncPgSession.prototype, 'query');
      const page = store.readers.pageNodes(['w1', 'missing', 'bond', 'quiet']);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(page.map((p) => [p.node.name, p.lease?.ip, p.lease?.mac, p.last?.kind, p.last?.data])).toEqual([
        ['w1', '10.0.0.20', 'aa:bb:cc:00:02:01', 'http', { n: 1 }],
        ['bond', '10.0.0.11', 'aa:bb:cc:00:01:02', 'inventory', null],
        ['quiet', undefined, undefined, 'inventory', null],
      ]);
      expect(page[0]!.last!.id).toBeGreaterThan(0);
      expect(page[0]!.node.spec.mac).toBe('aa:bb:cc:00:02:01');
    } finally {
      await admin.close();
      store.close();
    }
  });

  it('GET /ui costs the same number of round trips for 5 nodes and for 205', async () => {
    const counts: number[] = [];
    for (const extra of [0, 200]) {
      const conninfo = pg.createDatabase(`readers_ui_${extra}`);
      const app = await testAppliance({ openStore: (f) => new SharedStore(f, conninfo) });
      try {
        if (extra > 0) {
          const nodes = app.watcher.inventory!.nodes;
          app.store.syncInventory({ ...app.watcher.inventory!, nodes: [...nodes, ...Array.from({ length: extra }, (_, i) => nodeSpec(`bulk-${i}`, `aa:bb:cc:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`))] });
        }
        await app.admin.inject({ method: 'GET', url: '/ui', headers: ADMIN_HEADERS });
        const spy = vi.spyOn(SyncPgSession.prototype, 'query');
        const r = await app.admin.inject({ method: 'GET', url: '/ui', headers: ADMIN_HEADERS });
        expect(r.statusCode).toBe(200);
        counts.push(spy.mock.calls.length);
        spy.mockRestore();
      } finally {
        await app.close();
      }
    }
    expect(counts[1]).toBe(counts[0]);
    // Before pg-ops: 10 (token, keys, three for the page's nodes, state events, two cluster-state keys, discovered, UUIDs);
    // pg-ops made the page's nodes one. Since pg-local and pg-rollouts the page also reads the commissioning
    // records and the latest rollout from the shared store (one each), and the reported hostnames come with
    // the page's nodes (they were one round trip per node after pg-local: 60 for 205 nodes).
    expect(counts[0]).toBeLessThanOrEqual(10);
  });

  it('the /metrics totals are one round trip, with the same numbers', async () => {
    const conninfo = pg.createDatabase('readers_totals');
    const store = new SharedStore(join(tmp(), 'a.db'), conninfo);
    try {
      store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:02:01')]));
      store.appendEvent({ node: 'w1', mac: null, kind: 'reimage', message: 'asked', data: { step: 'requested' } });
      store.appendEvent({ node: 'w1', mac: null, kind: 'reimage', message: 'reset', data: { step: 'reset' } });
      store.setState('w1', 'failed', 'test');
      store.recordDiscovered({ mac: 'aa:bb:cc:99:00:01', source: 'dhcp' });
      store.recordDiscovered({ mac: 'aa:bb:cc:99:00:02', source: 'dhcp' });
      const spy = vi.spyOn(SyncPgSession.prototype, 'query');
      expect(store.readers.eventTotals()).toEqual({ reimagesRequested: 1, nodeFailures: 1, discovered: 2 });
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      store.close();
    }
  });
});
