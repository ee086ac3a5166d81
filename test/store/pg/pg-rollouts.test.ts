// PgRollouts' fence: a claimed rollout's steps are written only while the
// claiming leader session still holds the Talos leader lock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PgCoordination } from '../../../src/store/pg/coordination.js';
import { PgRollouts, RolloutClaimLostError, rolloutsOf } from '../../../src/store/pg/pg-rollouts.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { SqliteRollouts } from '../../../src/store/rollouts.js';
import { Store } from '../../../src/store/store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { waitFor } from '../../talos/helpers.js';

let pg: PgRig;
let dir: string;
beforeAll(() => { pg = startPostgres(); dir = mkdtempSync(join(tmpdir(), 'rb-pgro-store-')); });
afterAll(() => { pg?.stop(); rmSync(dir, { recursive: true, force: true }); });

it('picks PostgreSQL for a shared store and SQLite otherwise; a claimed rollout\'s writes stop the moment its session loses the lock', async () => {
  const conninfo = pg.createDatabase('pg_rollouts_fence');
  const store = new SharedStore(join(dir, 'a.db'), conninfo);
  const local = new Store(join(dir, 'local.db'));
  const coord = new PgCoordination({ conninfo, local: store });
  const other = new PgCoordination({ conninfo, local: store });
  try {
    expect(rolloutsOf(store)).toBeInstanceOf(PgRollouts);
    expect(rolloutsOf(local)).toBeInstanceOf(SqliteRollouts);
    expect(rolloutsOf(local.db)).toBeInstanceOf(SqliteRollouts);
    const rollouts = rolloutsOf(store);
    const id = rollouts.create({ kind: 'talos', targetVersion: 'v1.13.2', schematic: 's', image: 'i', nodes: [{ node: 'w1', role: 'worker', versionBefore: 'v1.13.0', done: false }] });
    expect(await coord.lead()).toBe(true);
    const pid = await coord.sessionPid();
    expect(rollouts.claim(id, pid)).toEqual({ ok: true });
    rollouts.setNodeStep(id, 'w1', 'calling', { started: 1 });
    await coord.killSession();
    await waitFor(() => other.lead(), 10_000, 'the lock freed');
    expect(() => rollouts.setNodeStep(id, 'w1', 'called')).toThrow(RolloutClaimLostError);
    expect(rollouts.nodes(id)[0]!.state).toBe('calling');
    // The new leader's session takes the claim over at once (no expiry to wait out).
    expect(rolloutsOf(store).claim(id, await other.sessionPid())).toEqual({ ok: true });
  } finally {
    await coord.close();
    await other.close();
    store.close();
    local.close();
  }
}, 60_000);

// The server may give a pid again once its session ended. Simulated: the old
// leader's session is gone, the new leader's session holds the lock, and both
// the rollout's record and the old appliance's memory name the new session's
// pid, as they would had the server given it the old pid (a pid cannot be
// chosen). That session began after the old appliance claimed: refused.
it('a pid the server gave to another session since this appliance claimed does not pass the fence', async () => {
  const conninfo = pg.createDatabase('pg_rollouts_pid_reuse');
  const store = new SharedStore(join(dir, 'reuse.db'), conninfo);
  const coord = new PgCoordination({ conninfo, local: store });
  const other = new PgCoordination({ conninfo, local: store });
  try {
    const rollouts = rolloutsOf(store) as PgRollouts;
    const id = rollouts.create({ kind: 'talos', targetVersion: 'v1.13.2', schematic: 's', image: 'i', nodes: [{ node: 'w1', role: 'worker', versionBefore: 'v1.13.0', done: false }] });
    expect(await coord.lead()).toBe(true);
    expect(rollouts.claim(id, await coord.sessionPid())).toEqual({ ok: true });
    rollouts.setNodeStep(id, 'w1', 'calling', { started: 1 });
    await coord.killSession();
    await new Promise((r) => setTimeout(r, 20)); // the new session begins strictly after the claim
    await waitFor(() => other.lead(), 10_000, 'the lock freed');
    const reused = await other.sessionPid();
    store.shared.sharedQuery('UPDATE rollouts SET driver_pid = $1 WHERE id = $2', [reused, id]);
    (rollouts as unknown as { driving: Map<number, { pid: number }> }).driving.get(id)!.pid = reused;
    expect(() => rollouts.setNodeStep(id, 'w1', 'called')).toThrow(RolloutClaimLostError);
    expect(rollouts.nodes(id)[0]!.state).toBe('calling');
    // The session that holds that pid now claims for itself and writes.
    const fresh = rolloutsOf(store);
    expect(fresh.claim(id, reused)).toEqual({ ok: true });
    fresh.setNodeStep(id, 'w1', 'called');
    expect(fresh.nodes(id)[0]!.state).toBe('called');
  } finally {
    await coord.close();
    await other.close();
    store.close();
  }
}, 60_000);
