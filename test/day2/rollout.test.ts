// Talos upgrade rollouts against fake nodes whose control planes run a real etcd.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pauseRollout, planUpgrade, resumeRollout } from '../../src/day2/rollout-plan.js';
import { RolloutBusyError, UpgradeRollout, usesLifecycleService, type RolloutDeps } from '../../src/day2/rollout.js';
import { recordInstallerImage, recordedSchematic } from '../../src/day2/applied.js';
import { runningSchematic } from '../../src/day2/running-schematic.js';
import { storedKubeconfigCheck } from '../../src/day2/kube-node.js';
import { installerImage } from '../../src/factory/schematic.js';
import { fakeUpgrade } from '../../src/lab/fake-talos/upgrade.js';
import { getRollout, rolloutNodes } from '../../src/store/rollouts.js';
import { Store } from '../../src/store/store.js';
import { makeEtcdRack } from './etcd-rack.js';
import { crashAtEveryStep, rackNodes, rollEnvPerTest, upgradeCounts, type RollEnv } from './upgrade-rig.js';

const TARGET = 'v1.13.2';
const SCHEMATIC = 'a'.repeat(64);
const IMAGE = installerImage('https://factory.talos.dev', SCHEMATIC, TARGET);

type Env = RollEnv & { assets: string[] };
const openEnv = rollEnvPerTest('rackboot-rollout-');

async function setup(cps: number, workers: number, firstHost: number, allNewest = false): Promise<Env> {
  // cp1 runs v1.12 (legacy MachineService/Upgrade), the rest v1.13 (LifecycleService + Reboot); allNewest: all v1.13.
  const rack = await makeEtcdRack(cps, workers, { firstHost, profile: (n) => (n === 'cp1' && !allNewest ? 'v1.12' : undefined) });
  return Object.assign(await openEnv(rack), { assets: [] as string[] });
}

function deps(e: Env, extra: Partial<RolloutDeps> = {}): RolloutDeps {
  return {
    db: e.store.db, connect: e.rack.connect, endpointOf: (n) => e.rack.fakes.get(n)?.endpoint,
    fetchAssets: async (v, s) => { e.assets.push(`${s}/${v}`); },
    parallelism: 1, returnTimeoutMs: 3000, pollMs: 50, kubeNodeNotReady: storedKubeconfigCheck(join(e.dir, 'kubeconfig'), 2000), ...extra,
  };
}

const nodesOf = (e: Env) => rackNodes(e.rack);
const plan = (e: Env) => planUpgrade(deps(e), nodesOf(e), { version: TARGET, schematic: SCHEMATIC, image: IMAGE });
const upgradesOf = (e: Env) => upgradeCounts(e.rack);

it('picks the LifecycleService from v1.13.0 on (talosctl: >1.13.0-alpha.2)', () => {
  expect(usesLifecycleService('v1.12.11')).toBe(false);
  expect(usesLifecycleService('v1.13.0-alpha.2')).toBe(false);
  expect(usesLifecycleService('v1.13.0-alpha.3')).toBe(true);
  expect(usesLifecycleService('v1.13.0')).toBe(true);
  expect(usesLifecycleService('v2.0.0')).toBe(true);
  expect(IMAGE).toBe(`factory.talos.dev/metal-installer/${SCHEMATIC}:${TARGET}`);
});

describe('upgrade rollout', () => {
  it('fetches assets first, upgrades control planes one at a time then workers, each once, on the API its version has', async () => {
    const e = await setup(3, 2, 81);
    const id = await plan(e);
    const r = await new UpgradeRollout(deps(e)).run(id);
    expect(r.state).toBe('done');
    expect(e.assets).toEqual([`${SCHEMATIC}/${TARGET}`]);
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1, w1: 1, w2: 1 });
    // cp1 (v1.12) got the legacy call, the others the LifecycleService and a Reboot.
    expect(e.rack.fakes.get('cp1')!.calls.Upgrade).toBe(1);
    expect(e.rack.fakes.get('cp1')!.calls.LifecycleUpgrade ?? 0).toBe(0);
    expect(e.rack.fakes.get('cp2')!.calls.LifecycleUpgrade).toBe(1);
    expect(e.rack.fakes.get('cp2')!.calls.Upgrade ?? 0).toBe(0);
    const rows = rolloutNodes(e.store.db, id);
    expect(rows.map((n) => n.node)).toEqual(['cp1', 'cp2', 'cp3', 'w1', 'w2']);
    expect(rows.map((n) => [n.versionBefore, n.versionAfter])).toEqual([['v1.12.11', TARGET], ...Array(4).fill(['v1.13.0', TARGET])]);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startedAt!).toBeGreaterThanOrEqual(rows[i - 1]!.finishedAt!);
    for (const f of e.rack.fakes.values()) expect((await e.rack.connect(f.endpoint).version()).version.tag).toBe(TARGET);
  }, 90_000);

  it('pauses at the quorum gate when a real etcd member is dead, upgrading nothing; --resume continues once it is back', async () => {
    const e = await setup(3, 0, 91);
    const id = await plan(e);
    await e.rack.etcd.kill('cp3');
    const r = await new UpgradeRollout(deps(e)).run(id);
    expect(r.state).toBe('paused');
    expect(r.reason).toMatch(/^cp1: quorum gate: etcd member\(s\) not healthy: cp3/);
    expect(upgradesOf(e)).toEqual({ cp1: 0, cp2: 0, cp3: 0 });
    e.rack.etcd.restart('cp3');
    await e.rack.etcd.waitHealthy(['cp1', 'cp2', 'cp3'], 10_000);
    expect(resumeRollout(e.store.db).state).toBe('running');
    expect((await new UpgradeRollout(deps(e)).run(id)).state).toBe('done');
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1 });
  }, 90_000);

  it('refuses a 2-member etcd with a clear reason', async () => {
    const e = await setup(2, 1, 101);
    const id = await plan(e);
    const r = await new UpgradeRollout(deps(e)).run(id);
    expect(r.state).toBe('paused');
    expect(r.reason).toMatch(/etcd has 2 members/);
    expect(upgradesOf(e)).toEqual({ cp1: 0, cp2: 0, w1: 0 });
  }, 60_000);

  it('a failed installer pauses the rollout with its exit code and leaves the next node alone', async () => {
    const e = await setup(3, 0, 111);
    fakeUpgrade(e.rack.fakes.get('cp2')!).failExitCode = 3;
    const id = await plan(e);
    const r = await new UpgradeRollout(deps(e)).run(id);
    expect(r.state).toBe('paused');
    expect(r.reason).toMatch(/^cp2: installer exited with code 3/);
    expect(rolloutNodes(e.store.db, id).map((n) => n.state)).toEqual(['done', 'failed', 'pending']);
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 0 });
  }, 90_000);

  it('refuses a second runner while one runs; an operator pause stops the rollout before the next node', async () => {
    const e = await setup(3, 0, 131);
    const id = await plan(e);
    const first = new UpgradeRollout(deps(e)).run(id);
    await expect(new UpgradeRollout(deps(e)).run(id)).rejects.toBeInstanceOf(RolloutBusyError);
    await new Promise((r) => setTimeout(r, 50));
    pauseRollout(e.store.db);
    const r = await first;
    expect(r).toMatchObject({ state: 'paused', reason: 'paused by the operator' });
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 0, cp3: 0 });
    expect(rolloutNodes(e.store.db, id).map((n) => n.state)).toEqual(['done', 'pending', 'pending']);
    resumeRollout(e.store.db);
    expect((await new UpgradeRollout(deps(e)).run(id)).state).toBe('done');
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1 });
  }, 90_000);

  it('rolls a new schematic out at the same Talos version: each node not recorded on it upgraded once, to the new installer', async () => {
    const e = await setup(3, 2, 221, true);
    const version = e.rack.fakes.get('cp1')!.profile.versionTag;
    for (const f of e.rack.fakes.values()) fakeUpgrade(f).schematic = SCHEMATIC;
    const newSchematic = 'b'.repeat(64);
    const newImage = installerImage('https://factory.talos.dev', newSchematic, version);
    // What rackboot recorded from the configs the nodes took; w2 already runs the new schematic.
    for (const name of e.rack.fakes.keys()) recordInstallerImage(e.store.db, name, name === 'w2' ? newImage : IMAGE);
    fakeUpgrade(e.rack.fakes.get('w2')!).schematic = newSchematic;
    const target = { version, schematic: newSchematic, image: newImage };
    const id = await planUpgrade({ ...deps(e), recordedSchematic: (n) => recordedSchematic(e.store.db, n) }, nodesOf(e), target);
    expect(rolloutNodes(e.store.db, id).map((n) => [n.node, n.state])).toEqual([['cp1', 'pending'], ['cp2', 'pending'], ['cp3', 'pending'], ['w1', 'pending'], ['w2', 'done']]);
    const r = await new UpgradeRollout(deps(e)).run(id);
    expect([r.state, r.reason]).toEqual(['done', '']);
    expect(Object.fromEntries([...e.rack.fakes].map(([n, f]) => [n, fakeUpgrade(f).upgrades]))).toEqual({ cp1: [newImage], cp2: [newImage], cp3: [newImage], w1: [newImage], w2: [] });
    for (const f of e.rack.fakes.values()) {
      const c = e.rack.connect(f.endpoint);
      expect([(await c.version()).version.tag, await runningSchematic(c)]).toEqual([version, newSchematic]);
      c.close();
    }
    // Each node was done only once it ran the new schematic: the next started after the previous was back on it.
    const rows = rolloutNodes(e.store.db, id).slice(0, 4);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startedAt!).toBeGreaterThanOrEqual(rows[i - 1]!.finishedAt!);
    // The store now knows the new schematic: planned again, there is nothing to do.
    expect([...e.rack.fakes.keys()].map((n) => recordedSchematic(e.store.db, n))).toEqual(Array(5).fill(newSchematic));
    const again = await planUpgrade({ ...deps(e), recordedSchematic: (n) => recordedSchematic(e.store.db, n) }, nodesOf(e), target);
    expect(rolloutNodes(e.store.db, again).every((n) => n.state === 'done')).toBe(true);
  }, 120_000);

  it('waits after each node for its Kubernetes node to be Ready (through the kubeconfig); a node that stays NotReady pauses the rollout', async () => {
    const e = await setup(3, 2, 231);
    e.kube.nodes.set('w1', 'False');
    const id = await plan(e);
    const r = await new UpgradeRollout(deps(e, { returnTimeoutMs: 1500 })).run(id);
    expect(r.state).toBe('paused');
    expect(r.reason).toBe('w1: Kubernetes node w1 not Ready (False, KubeletNotReady: container runtime network not ready)');
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1, w1: 1, w2: 0 });
    // Asked over HTTPS with the kubeconfig's client certificate, after each upgraded node.
    for (const n of ['cp1', 'cp2', 'cp3', 'w1']) expect(e.kube.requests).toContain(`GET /api/v1/nodes/${n}`);
    expect(e.kube.requests).not.toContain('GET /api/v1/nodes/w2');
    // A node Kubernetes does not know is not Ready either; once w1 is Ready, --resume finishes without upgrading it again.
    e.kube.nodes.set('w1', 'True');
    e.kube.nodes.delete('w2');
    resumeRollout(e.store.db);
    const r2 = await new UpgradeRollout(deps(e, { returnTimeoutMs: 1500 })).run(id);
    expect([r2.state, r2.reason]).toEqual(['paused', 'w2: Kubernetes has no node w2']);
    e.kube.nodes.set('w2', 'True');
    resumeRollout(e.store.db);
    expect((await new UpgradeRollout(deps(e)).run(id)).state).toBe('done');
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1, w1: 1, w2: 1 });
  }, 90_000);

  it('restarted at every persisted step, upgrades each node exactly once', async () => {
    const e = await setup(3, 2, 121);
    const id = await plan(e);
    let resumes = 0;
    const crashed = await crashAtEveryStep({
      maxRuns: 60,
      // A daemon restart: the store is opened again, a new rollout engine reads it.
      reopen: () => { e.store.close(); e.store = new Store(join(e.dir, 'rackboot.db')); },
      run: (checkpoint) => new UpgradeRollout(deps(e, { checkpoint })).run(id),
      paused: (r) => {
        expect(r.reason).toMatch(/unknown whether the upgrade call reached it/);
        resumeRollout(e.store.db);
        resumes++;
      },
    });
    expect(getRollout(e.store.db, id)!.state).toBe('done');
    expect(upgradesOf(e)).toEqual({ cp1: 1, cp2: 1, cp3: 1, w1: 1, w2: 1 });
    // Every node was crashed at before its call, after it, and at each step after.
    for (const n of ['cp1', 'cp2', 'cp3', 'w1', 'w2']) expect(crashed).toEqual(expect.arrayContaining([`${n}:calling`, `${n}:sent`, `${n}:called`, `${n}:done`]));
    // Each crash right before the call leaves the node on its old version: the operator resumed each of those once.
    expect(resumes).toBe(5);
  }, 240_000);
});
