// The daemon's rollout service: a rollout the store has running continues
// after a daemon restart, from its recorded steps, upgrading nobody twice.
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { planUpgrade } from '../../src/day2/rollout-plan.js';
import { planK8sRoll } from '../../src/day2/k8s-roll.js';
import { startRolloutService, type RolloutServiceInput } from '../../src/day2/rollout-service.js';
import { fakeUpgrade } from '../../src/lab/fake-talos/upgrade.js';
import { createLogger } from '../../src/log.js';
import { loadSettings } from '../../src/settings/settings.js';
import { getRollout, rolloutNodes, type RolloutRecord } from '../../src/store/rollouts.js';
import { Store } from '../../src/store/store.js';
import { waitFor } from '../talos/helpers.js';
import { makeEtcdRack, type EtcdRack } from './etcd-rack.js';
import { daemonSite, rackNodes, upgradeCounts } from './upgrade-rig.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => { await cleanup?.(); cleanup = undefined; });


/** A daemon's site for the rack, its store, and daemons started and restarted over it as `serve` would. */
async function serviceRig(rack: EtcdRack, prefix: string) {
  const site = await daemonSite(rack, prefix);
  const settings = loadSettings({ config: site.config });
  const log = createLogger({ level: 'silent' });
  const dbFile = join(site.dataDir, 'rackboot.db');
  const rig = {
    store: new Store(dbFile),
    endpointOf: (n: string) => rack.fakes.get(n)?.endpoint,
    start: (over: Pick<RolloutServiceInput, 'deps' | 'k8sDeps'>) => startRolloutService({ settings, store: rig.store, log, schematic: () => undefined, intervalMs: 50, ...over })!,
    /** A daemon restart: the store opened again, a new daemon run until the rollout is no longer running. */
    async restartUntilSettled(id: number, over: Pick<RolloutServiceInput, 'deps' | 'k8sDeps'>): Promise<RolloutRecord> {
      rig.store.close();
      rig.store = new Store(dbFile);
      const daemon = rig.start(over);
      try {
        await waitFor(() => getRollout(rig.store.db, id)!.state !== 'running', 30_000, 'rollout settled');
      } finally {
        await daemon.close();
      }
      return getRollout(rig.store.db, id)!;
    },
  };
  cleanup = async () => { rig.store.close(); await site.close(); await rack.close(); };
  return rig;
}

it('a daemon closed mid-rollout leaves it running; the next daemon finishes it, each node upgraded once', async () => {
  const rack: EtcdRack = await makeEtcdRack(3, 1, { firstHost: 151 });
  // The daemon asks Kubernetes through DATA_DIR/kubeconfig whether each upgraded node is Ready.
  const rig = await serviceRig(rack, 'rb-rollout-svc-');
  const { endpointOf } = rig;
  const assets: string[] = [];
  const deps = { connect: rack.connect, endpointOf, fetchAssets: async (v: string) => { assets.push(v); }, pollMs: 50, returnTimeoutMs: 3000 };
  const id = await planUpgrade({ db: rig.store.db, connect: rack.connect, endpointOf },
    rackNodes(rack),
    { version: 'v1.13.4', schematic: 'b'.repeat(64), image: `factory.talos.dev/metal-installer/${'b'.repeat(64)}:v1.13.4` });

  const first = rig.start({ deps });
  // Closed once cp2's install stream has ended (closing during it cancels the install: a test below).
  await waitFor(() => ['installed', 'called', 'done'].includes(rolloutNodes(rig.store.db, id)[1]!.state), 20_000, 'cp2 under way');
  await first.close();
  expect(getRollout(rig.store.db, id)!.state).toBe('running');
  expect(rolloutNodes(rig.store.db, id).at(-1)!.state).toBe('pending');

  expect((await rig.restartUntilSettled(id, { deps })).state).toBe('done');
  expect(assets).toEqual(['v1.13.4']);
  expect(upgradeCounts(rack)).toEqual({ cp1: 1, cp2: 1, cp3: 1, w1: 1 });
}, 90_000);

it('runs a Kubernetes roll the store has running with its own engine, and a restarted daemon finishes it, each change once', async () => {
  const rack: EtcdRack = await makeEtcdRack(3, 1, { firstHost: 156 });
  const rig = await serviceRig(rack, 'rb-rollout-svc-k8s-');
  const { endpointOf } = rig;
  const k8sDeps = { connect: rack.connect, endpointOf, controlPlanes: () => ['cp1', 'cp2', 'cp3'].map((name) => ({ name, endpoint: endpointOf(name)! })), pollMs: 30, returnTimeoutMs: 3000 };
  const id = planK8sRoll(rig.store.db, rackNodes(rack), '1.35.3');
  const first = rig.start({ k8sDeps });
  await waitFor(() => rolloutNodes(rig.store.db, id)[3]!.state !== 'pending', 20_000, 'the fourth step under way');
  await first.close();
  expect(getRollout(rig.store.db, id)!.state).toBe('running');
  expect((await rig.restartUntilSettled(id, { k8sDeps })).state).toBe('done');
  expect([...rack.fakes.values()].map((f) => f.applied.length)).toEqual([6, 6, 6, 2]);
  expect(Object.values(upgradeCounts(rack))).toEqual([0, 0, 0, 0]);
}, 90_000);

it('a daemon closing during a LifecycleService install cancels the stream at once; the next start asks the node and sends nothing blindly', async () => {
  const rack: EtcdRack = await makeEtcdRack(1, 1, { firstHost: 161 });
  const rig = await serviceRig(rack, 'rb-rollout-svc-stop-');
  const { endpointOf } = rig;
  // w1's installer would run for a minute: the close must not wait for it.
  fakeUpgrade(rack.fakes.get('w1')!).installMs = 60_000;
  const deps = { connect: rack.connect, endpointOf, fetchAssets: async () => {}, pollMs: 50, returnTimeoutMs: 1500, allowSingleMember: true };
  const id = await planUpgrade({ db: rig.store.db, connect: rack.connect, endpointOf }, rackNodes(rack),
    { version: 'v1.13.4', schematic: 'c'.repeat(64), image: `factory.talos.dev/metal-installer/${'c'.repeat(64)}:v1.13.4` });
  const first = rig.start({ deps });
  await waitFor(() => fakeUpgrade(rack.fakes.get('w1')!).inProgress, 20_000, 'w1 installing');
  const t0 = Date.now();
  await first.close();
  expect(Date.now() - t0).toBeLessThan(3000);
  // Nothing recorded after the stop: w1 stays at 'calling', its install was cancelled on the node.
  expect(rolloutNodes(rig.store.db, id).map((n) => [n.node, n.state])).toEqual([['cp1', 'done'], ['w1', 'calling']]);
  await waitFor(() => !fakeUpgrade(rack.fakes.get('w1')!).inProgress, 5000, 'the install cancelled');
  expect(fakeUpgrade(rack.fakes.get('w1')!).staged).toBeUndefined();

  // The node did not come back on the target: unknown whether the call got through, so only the operator sends it again.
  const after = await rig.restartUntilSettled(id, { deps });
  expect(after.state).toBe('paused');
  expect(after.reason).toMatch(/w1: unknown whether the upgrade call reached it/);
  expect(upgradeCounts(rack)).toEqual({ cp1: 1, w1: 1 });
}, 90_000);
