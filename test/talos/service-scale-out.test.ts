// The daemon's Talos service with `scaleOut.postgres`: two services on one
// PostgreSQL (a real PostgreSQL 15 started here), one holds the Talos lock at
// a time, and closing the leader hands it to the other.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { createLogger } from '../../src/log.js';
import { loadSettings } from '../../src/settings/settings.js';
import { TALOS_LEADER_LOCK } from '../../src/store/pg/coordination.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { Store } from '../../src/store/store.js';
import { startTalosService, type TalosService } from '../../src/talos/service.js';
import { leadershipMetrics } from '../../src/talos/leadership.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { makeRack, type Rack } from './cluster-fixture.js';
import { waitFor } from './helpers.js';

let pg: PgRig;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

let rack: Rack | undefined;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await rack?.close();
  rack = undefined;
});

const quiet = () => createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

describe('Talos service on a shared PostgreSQL', () => {
  it('one of two services holds the Talos lock; closing it hands the lock to the other', async () => {
    rack = await makeRack([]);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(join(rack.dir, 'talosconfig'), stringify({
      context: 'a', contexts: { a: { ca: b64(rack.pki.osCa.crt), crt: b64(rack.pki.admin.crt), key: b64(rack.pki.admin.key) } },
    }));
    const conninfo = pg.createDatabase('service_lock');
    const config = join(rack.dir, 'rackboot.yaml');
    writeFileSync(config, stringify({ dataDir: rack.dir, scaleOut: { postgres: conninfo } }));
    const settings = loadSettings({ dataDir: rack.dir, config }, rack.dir);
    expect(settings.scaleOut?.postgres).toBe(conninfo);
    const otherStore = new Store(join(rack.dir, 'b.db'));
    cleanup.push(() => otherStore.close());
    const start = (store: Store): TalosService => {
      const svc = startTalosService({ settings, store, states: new StateMachine(store), log: quiet(), intervalMs: 50 });
      cleanup.push(() => svc.close());
      return svc;
    };
    const watcher = new PsqlSession(pg.conninfo('service_lock'));
    cleanup.push(() => watcher.close());
    const holders = async () => (await watcher.rows<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${TALOS_LEADER_LOCK}::oid AND granted`)).map((r) => r.pid);
    const sessions = async () => (await watcher.rows<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'rackboot%' AND pid <> pg_backend_pid()"))[0]!.n;

    const a = start(rack.store);
    expect(a.state().detail).toContain('leader only');
    // A single box (no scaleOut.postgres) exposes no leadership gauges.
    const single = startTalosService({ settings: { ...settings, scaleOut: {} }, store: new Store(':memory:'), states: new StateMachine(rack.store), log: quiet(), intervalMs: 50 });
    cleanup.push(() => single.close());
    expect(single.leadership()).toBeUndefined();
    let first: number[] = [];
    await waitFor(async () => (first = await holders()).length === 1, 10_000, 'the first service leading');
    const b = start(otherStore);
    await waitFor(async () => (await sessions()) === 2, 10_000, 'the second service connected');
    await new Promise((r) => setTimeout(r, 300)); // several of its passes
    expect(await holders()).toEqual(first);
    // /metrics: rackboot_leader is 1 on the holder only.
    expect(leadershipMetrics(a.leadership()!)).toMatchObject({ leader: 1, leader_changes_total: 1 });
    expect(leadershipMetrics(a.leadership()!).leader_lock_confirmed_age_seconds).toBeLessThan(5);
    expect(leadershipMetrics(b.leadership()!)).toEqual({ leader: 0, leader_changes_total: 0 });

    await a.close();
    let next: number[] = [];
    await waitFor(async () => (next = await holders()).length === 1 && next[0] !== first[0], 10_000, 'the second service taking over');
    expect(next).toHaveLength(1);
    await waitFor(async () => b.leadership()!.leading, 10_000, 'the second service reporting it leads');
    expect(leadershipMetrics(b.leadership()!)).toMatchObject({ leader: 1, leader_changes_total: 1 });
    expect(a.leadership()).toMatchObject({ leading: false, changes: 2 });
  });
});
