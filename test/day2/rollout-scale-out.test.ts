// Two appliances on one real PostgreSQL driving one upgrade rollout of three
// fake Talos nodes (v1.13: LifecycleService/Upgrade, then Reboot; the fake's
// upstream behaviour is in src/lab/fake-talos/upgrade.ts). The rollout rows
// are shared; only the leader runs the rollout, claimed with its leader
// session. A is killed (its session ends, so its lock goes) at chosen steps;
// B becomes the leader and resumes from the stored steps, and no node is
// ever sent the upgrade twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planUpgrade, resumeRollout } from '../../src/day2/rollout-plan.js';
import { UpgradeRollout, type RolloutDeps } from '../../src/day2/rollout.js';
import { startRolloutService } from '../../src/day2/rollout-service.js';
import { createLogger } from '../../src/log.js';
import { loadSettings } from '../../src/settings/settings.js';
import { installerImage } from '../../src/factory/schematic.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { rolloutsOf } from '../../src/store/pg/pg-rollouts.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { waitFor } from '../talos/helpers.js';
import { makeEtcdRack, type EtcdRack } from './etcd-rack.js';
import { daemonSite, rackNodes, upgradeCounts } from './upgrade-rig.js';

const TARGET = 'v1.13.2';

class Killed extends Error {}
const SCHEMATIC = 'e'.repeat(64);
const IMAGE = installerImage('https://factory.talos.dev', SCHEMATIC, TARGET);

interface Appliance { store: SharedStore; coord: PgCoordination }

let pg: PgRig;
let dbs = 0;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(firstHost: number) {
  const rack: EtcdRack = await makeEtcdRack(0, 3, { firstHost });
  const dir = mkdtempSync(join(tmpdir(), 'rb-pgro-'));
  cleanups.push(async () => { await rack.close(); rmSync(dir, { recursive: true, force: true }); });
  const conninfo = pg.createDatabase(`rollouts_${++dbs}`);
  const appliance = (name: string): Appliance => {
    const store = new SharedStore(join(dir, `${name}.db`), conninfo);
    const coord = new PgCoordination({ conninfo, local: store, leaseMs: 60_000 });
    cleanups.push(async () => { await coord.close(); store.close(); });
    return { store, coord };
  };
  const a = appliance('a');
  const b = appliance('b');
  expect(await a.coord.lead()).toBe(true);
  expect(await b.coord.lead()).toBe(false);
  const deps = (x: Appliance, extra: Partial<RolloutDeps> = {}): RolloutDeps => ({
    db: x.store, driver: () => x.coord.sessionPid(), connect: rack.connect, endpointOf: (n) => rack.fakes.get(n)?.endpoint,
    fetchAssets: async () => {}, parallelism: 1, returnTimeoutMs: 1500, pollMs: 50, kubeNodeNotReady: async () => undefined, ...extra,
  });
  // Planned on B (any appliance records it; the leader runs it).
  const id = await planUpgrade({ db: b.store, connect: rack.connect, endpointOf: (n) => rack.fakes.get(n)?.endpoint }, rackNodes(rack),
    { version: TARGET, schematic: SCHEMATIC, image: IMAGE });
  /** A killed: its leader session ends (the server frees the lock); B leads once the server has let go. */
  const killA = async () => {
    await a.coord.killSession();
    await waitFor(async () => b.coord.lead(), 10_000, 'B leads');
  };
  const steps = () => rolloutsOf(b.store).nodes(id).map((n) => [n.node, n.state]);
  /** A runs the rollout and is killed (process, then session) at `node`'s persisted `step`. */
  const killAAt = async (node: string, step: 'calling' | 'sent') => {
    const crash = (n: string, st: string) => {
      if (n === node && st === step) throw new Killed(`A killed at ${node}:${step}`);
    };
    await expect(new UpgradeRollout(deps(a, { checkpoint: crash })).run(id)).rejects.toThrow(Killed);
    await killA();
  };
  return { rack, a, b, id, deps, killA, killAAt, steps };
}

describe('a rollout shared by two appliances', () => {
  it('A killed right after w1\'s upgrade call: B resumes, w1 gets no second call, B upgrades w2 and w3', async () => {
    const { rack, b, id, deps, killAAt, steps } = await setup(226);
    await killAAt('w1', 'sent');
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 0, w3: 0 });
    expect(steps()).toEqual([['w1', 'calling'], ['w2', 'pending'], ['w3', 'pending']]);

    const r = await new UpgradeRollout(deps(b)).run(id);
    expect(r.state).toBe('done');
    expect(steps()).toEqual([['w1', 'done'], ['w2', 'done'], ['w3', 'done']]);
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 1, w3: 1 });
    expect(rack.fakes.get('w1')!.calls.LifecycleUpgrade).toBe(1);
    for (const f of rack.fakes.values()) expect((await rack.connect(f.endpoint).version()).version.tag).toBe(TARGET);
  }, 120_000);

  it('A killed between recording w1\'s intent and sending it: B asks w1, sends nothing blindly and pauses; --resume sends it once', async () => {
    const { rack, a, b, id, deps, killAAt, steps } = await setup(236);
    await killAAt('w1', 'calling');
    expect(upgradeCounts(rack)).toEqual({ w1: 0, w2: 0, w3: 0 });

    const paused = await new UpgradeRollout(deps(b)).run(id);
    expect(paused.state).toBe('paused');
    expect(paused.reason).toMatch(/^w1: unknown whether the upgrade call reached it/);
    expect(upgradeCounts(rack)).toEqual({ w1: 0, w2: 0, w3: 0 });
    expect(steps()).toEqual([['w1', 'failed'], ['w2', 'pending'], ['w3', 'pending']]);

    // The operator's --resume, from A's CLI (the rows are shared), and B runs it to the end.
    expect(resumeRollout(a.store).state).toBe('running');
    const done = await new UpgradeRollout(deps(b)).run(id);
    expect(done.state).toBe('done');
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 1, w3: 1 });
  }, 120_000);

  it('A whose lock is lost while its process runs on records no further step and sends no further call; B finishes', async () => {
    const { rack, a, b, id, deps, killA, steps } = await setup(203);
    let lost = false;
    // While A waits for w1's Kubernetes node, its session dies (a partition): it keeps running, but leads no more.
    const kubeNodeNotReady = async () => {
      if (!lost) { lost = true; await killA(); }
      return undefined;
    };
    const r = await new UpgradeRollout(deps(a, { kubeNodeNotReady })).run(id);
    expect(r.state).toBe('running');
    expect(steps()).toEqual([['w1', 'called'], ['w2', 'pending'], ['w3', 'pending']]);
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 0, w3: 0 });

    const done = await new UpgradeRollout(deps(b)).run(id);
    expect(done.state).toBe('done');
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 1, w3: 1 });
  }, 120_000);

  it('the daemons\' rollout services: only the leader\'s runs it; when the leader dies mid-rollout the other\'s finishes it, each node upgraded once', async () => {
    const { rack, a, b, id, killA, steps } = await setup(246);
    const site = await daemonSite(rack, 'rb-pgro-svc-');
    cleanups.push(() => site.close());
    const settings = loadSettings({ config: site.config });
    const log = createLogger({ level: 'silent' });
    let aDead = false;
    const deps = { connect: rack.connect, endpointOf: (n: string) => rack.fakes.get(n)?.endpoint, fetchAssets: async () => {}, pollMs: 50, returnTimeoutMs: 1500 };
    const service = (x: Appliance, extra: object, leads: () => boolean) => {
      const svc = startRolloutService({
        settings, store: x.store, log, schematic: () => undefined, intervalMs: 50, deps: { ...deps, ...extra },
        leadership: () => ({ lead: async () => leads() && x.coord.lead(), sessionPid: () => x.coord.sessionPid() }),
      })!;
      cleanups.push(() => svc.close());
      return svc;
    };
    // A dies (session and process) while it waits for w2's Kubernetes node, after w2's upgrade call.
    service(a, {
      kubeNodeNotReady: async (node: string) => {
        if (node === 'w2' && !aDead) { aDead = true; await killA(); }
        return undefined;
      },
    }, () => !aDead);
    const bPasses: string[] = [];
    service(b, { kubeNodeNotReady: async (node: string) => { bPasses.push(node); return undefined; } }, () => true);
    await waitFor(() => rolloutsOf(b.store).get(id)!.state === 'done', 60_000, 'rollout done');
    expect(aDead).toBe(true);
    expect(steps()).toEqual([['w1', 'done'], ['w2', 'done'], ['w3', 'done']]);
    expect(upgradeCounts(rack)).toEqual({ w1: 1, w2: 1, w3: 1 });
    // B ran only what was left: w2 from its recorded 'called' step (no call), then w3.
    expect(bPasses.includes('w1')).toBe(false);
    expect(rack.fakes.get('w2')!.calls.LifecycleUpgrade).toBe(1);
  }, 120_000);

  it('a driver that does not hold the leader lock cannot claim the rollout; the leader can, and a second leader session is refused while it runs', async () => {
    const { a, b, id } = await setup(206);
    const shared = rolloutsOf(b.store);
    const aPid = await a.coord.sessionPid();
    await expect(b.coord.sessionPid()).rejects.toThrow(/not leading/);
    expect(shared.claim(id, aPid + 100_000).ok).toBe(false);
    expect(shared.claim(id, aPid)).toEqual({ ok: true });
    // A second claim by another driver while A's session holds the lock: refused, naming A's session.
    expect(rolloutsOf(a.store).claim(id, aPid + 1)).toEqual({ ok: false, holder: aPid });
  }, 60_000);
});
