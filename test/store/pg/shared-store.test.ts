// Two appliances, each with its own SQLite file, on one PostgreSQL store
// (SharedStore, what the daemon opens with scaleOut.postgres): a node one
// appliance's state machine moves is where the other's reads it, a move the
// other makes from what it read before is refused, and a lost database
// session is replaced.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lifecycle } from '../../../src/lifecycle/lifecycle.js';
import { StateMachine } from '../../../src/lifecycle/machine.js';
import { RECONNECT_BACKOFF_MS } from '../../../src/store/pg/pg-store.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { inventoryOf, node } from '../../dhcp/context.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const tmp = tempDirs('rb-shared-');

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

describe('SharedStore: two appliances on one PostgreSQL store', () => {
  it('a MAC finds the node it is the provisioning MAC of before an earlier node that lists it among its extra macs', () => {
    const conninfo = pg.createDatabase('shared_mac_order');
    const one = new SharedStore(join(tmp(), 'one.db'), conninfo);
    try {
      one.syncInventory(inventoryOf([{ ...node('a', '52:54:00:00:00:01'), macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'] }, node('b', '52:54:00:00:00:02')]));
      expect(one.nodeByMac('52:54:00:00:00:02')?.name).toBe('b');
      expect(one.nodeByMac('52:54:00:00:00:01')?.name).toBe('a');
    } finally {
      one.close();
    }
  });

  it('a second NIC listed in one appliance\'s inventory finds its node on the other; a MAC no node lists finds none', () => {
    const conninfo = pg.createDatabase('shared_macs');
    const one = new SharedStore(join(tmp(), 'one.db'), conninfo);
    const two = new SharedStore(join(tmp(), 'two.db'), conninfo);
    try {
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01'), { ...node('b', '52:54:00:00:00:02'), macs: ['52:54:00:00:00:02', '52:54:00:00:01:02'] }]));
      expect(two.nodeByMac('52:54:00:00:01:02')?.name).toBe('b');
      expect(two.nodeByMac('52:54:00:00:09:09')).toBeUndefined();
      // Gone from the inventory, its second NIC is unknown again.
      one.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      expect(two.nodeByMac('52:54:00:00:01:02')).toBeUndefined();
    } finally {
      one.close();
      two.close();
    }
  });

  it('a node one appliance moved is where the other reads it; a stale move from the other is refused', () => {
    const conninfo = pg.createDatabase('shared_sm');
    const one = new SharedStore(join(tmp(), 'one.db'), conninfo);
    const two = new SharedStore(join(tmp(), 'two.db'), conninfo);
    try {
      const inventory = inventoryOf([node('a', '52:54:00:00:00:01')]);
      one.syncInventory(inventory);
      two.syncInventory(inventory);
      const sm1 = new StateMachine(one);
      const sm2 = new StateMachine(two);
      expect(sm1.transition('a', 'booting', 'served the iPXE script').ok).toBe(true);
      // The other appliance reads the shared row, not its own file.
      expect(two.nodeByMac('52:54:00:00:00:01')!.state).toBe('booting');
      expect(two.db.prepare("SELECT state FROM nodes WHERE name = 'a'").get()).toEqual({ state: 'registered' });
      // Appliance two acts on what it read before a slow step; appliance one moved the node meanwhile.
      expect(sm1.transition('a', 'maintenance', 'maintenance API answers').ok).toBe(true);
      const stale = sm2.transition('a', 'maintenance', 'late', { from: 'booting' });
      expect(stale.ok).toBe(false);
      expect(two.getNode('a')!.state).toBe('maintenance');
      // Both appliances' events, in one log.
      expect(one.events({ node: 'a' }).map((e) => e.kind)).toEqual(['inventory', 'state', 'state', 'rejected']);
      // The local copy carries this appliance's own writes for the SQLite readers.
      expect(one.db.prepare("SELECT state FROM nodes WHERE name = 'a'").get()).toEqual({ state: 'maintenance' });
    } finally {
      one.close();
      two.close();
    }
  });

  it('discovered machines are counted across appliances', () => {
    const conninfo = pg.createDatabase('shared_disc');
    const one = new SharedStore(join(tmp(), 'one.db'), conninfo);
    const two = new SharedStore(join(tmp(), 'two.db'), conninfo);
    try {
      expect(one.recordDiscovered({ mac: '52:54:00:99:00:01', source: 'dhcp' })).toBe(true);
      expect(two.recordDiscovered({ mac: '52:54:00:99:00:01', source: 'http' })).toBe(false);
      expect(two.listDiscovered().map((d) => d.seenCount)).toEqual([2]);
    } finally {
      one.close();
      two.close();
    }
  });

  it('a daemon\'s sightings are written turn by turn: each row is a round trip here, so gathering them only lengthens one stall', async () => {
    const conninfo = pg.createDatabase('shared_sightings');
    const store = new SharedStore(join(tmp(), 'one.db'), conninfo);
    const turn = () => new Promise((r) => setImmediate(r));
    try {
      // As the daemon makes it: on SQLite the second turn's sighting would wait SIGHTING_COMMIT_GAP_MS.
      const lifecycle = new Lifecycle(store, { sightingsLater: true });
      lifecycle.sighted({ mac: '52:54:00:99:01:01', source: 'dhcp' });
      await turn();
      lifecycle.sighted({ mac: '52:54:00:99:01:02', source: 'dhcp' });
      await turn();
      expect(store.listDiscovered().map((d) => d.mac).sort()).toEqual(['52:54:00:99:01:01', '52:54:00:99:01:02']);
    } finally {
      store.close();
    }
  });

  it('replaces a session the server ended, after a short back-off', async () => {
    const conninfo = pg.createDatabase('shared_reconnect');
    const store = new SharedStore(join(tmp(), 'one.db'), conninfo);
    const admin = new PsqlSession(conninfo);
    try {
      store.syncInventory(inventoryOf([node('a', '52:54:00:00:00:01')]));
      await admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'shared_reconnect' AND pid <> pg_backend_pid()");
      expect(() => store.getNode('a')).toThrow();
      expect(() => store.getNode('a')).toThrow(/reconnecting/);
      await new Promise((r) => setTimeout(r, RECONNECT_BACKOFF_MS + 200));
      expect(store.getNode('a')!.state).toBe('registered');
    } finally {
      await admin.close();
      store.close();
    }
  });
});
