// What the two-appliance Talos tests share: one real PostgreSQL 15 per file,
// a fresh database per test, one fake rack, and the appliances a test starts
// (each with its own SQLite), all closed after each test.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { StateMachine } from '../../src/lifecycle/machine.js';
import type { ClusterStateStore } from '../../src/store/cluster-state-store.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { Store } from '../../src/store/store.js';
import { TalosOrchestrator } from '../../src/talos/orchestrator.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { FAST, makeRack, type Rack } from './cluster-fixture.js';

export interface Instance { store: Store; coord: PgCoordination; orch: TalosOrchestrator }

export interface ScaleOutRig {
  /** A fake rack with these roles, closed after the test. */
  rack(roles: Parameters<typeof makeRack>[0]): Promise<Rack>;
  /** A database of its own for this test on the file's PostgreSQL. */
  database(prefix: string): string;
  /**
   * An appliance: its own data dir and SQLite (a copy of the rack's unless
   * `store` is given), the shared database, an orchestrator over both; closed
   * after the test. `clusterState` wraps the coordination's shared state.
   */
  appliance(r: Rack, name: string, conninfo: string, opts?: {
    store?: Store; clusterState?: (coord: PgCoordination) => ClusterStateStore; resetSettleMs?: number;
  }): Instance;
}

export function useScaleOutRig(): ScaleOutRig {
  let pg: PgRig | undefined;
  let dbCount = 0;
  let rack: Rack | undefined;
  const instances: Instance[] = [];
  beforeAll(() => {
    pg = startPostgres();
  });
  afterAll(() => pg?.stop());
  afterEach(async () => {
    for (const i of instances.splice(0)) {
      await i.orch.close();
      await i.coord.close();
      if (i.store !== rack?.store) i.store.close();
    }
    await rack?.close();
    rack = undefined;
  });
  return {
    rack: async (roles) => (rack = await makeRack(roles)),
    database: (prefix) => pg!.createDatabase(`${prefix}_${++dbCount}`),
    appliance(r, name, conninfo, opts = {}) {
      const dir = join(r.dir, name);
      mkdirSync(dir, { recursive: true });
      let store = opts.store;
      if (!store) {
        r.store.db.exec(`VACUUM INTO '${join(dir, 'rackboot.db')}'`);
        store = new Store(join(dir, 'rackboot.db'));
      }
      const coord = new PgCoordination({ conninfo, local: store });
      const orch = new TalosOrchestrator({
        store, states: new StateMachine(store), admin: { ca: r.pki.osCa.crt, crt: r.pki.admin.crt, key: r.pki.admin.key },
        endpointOf: (n) => r.fakes.get(n.name)?.endpoint, dataDir: dir, policy: FAST, pollIntervalMs: 20, pollTimeoutMs: 300,
        leadership: coord, clusterState: opts.clusterState?.(coord) ?? coord, resetSettleMs: opts.resetSettleMs,
      });
      const i = { store, coord, orch };
      instances.push(i);
      return i;
    },
  };
}
