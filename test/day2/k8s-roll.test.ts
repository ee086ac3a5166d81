// A Kubernetes version roll against fake nodes (control planes over a real
// etcd): one-field config patches applied NO_REBOOT in upgrade-k8s's order,
// each static pod waited for on its new image and Ready, persisted so that a
// restart at any step applies each change once.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubernetesRollout, planK8sRoll, type K8sRollDeps } from '../../src/day2/k8s-roll.js';
import { resumeRollout } from '../../src/day2/rollout-plan.js';
import { getRollout, rolloutNodes } from '../../src/store/rollouts.js';
import { Store } from '../../src/store/store.js';
import { kubeNodeNotReady, parseKubeconfig } from '../../src/day2/kube-node.js';
import { makeEtcdRack } from './etcd-rack.js';
import { fakeImagePulls } from '../../src/lab/fake-talos/image-pull.js';
import { crashAtEveryStep, rollEnvPerTest, type RollEnv } from './upgrade-rig.js';

type Env = RollEnv;
const openEnv = rollEnvPerTest('rb-k8s-roll-');
const setup = async (firstHost: number): Promise<Env> => openEnv(await makeEtcdRack(3, 1, { firstHost }));

function deps(e: Env, extra: Partial<K8sRollDeps> = {}): K8sRollDeps {
  const endpointOf = (n: string) => e.rack.fakes.get(n)?.endpoint;
  const access = parseKubeconfig(e.kube.kubeconfig(e.rack.pki.admin));
  return {
    db: e.store.db, connect: e.rack.connect, endpointOf,
    controlPlanes: () => ['cp1', 'cp2', 'cp3'].map((name) => ({ name, endpoint: endpointOf(name)! })),
    kubeNodeNotReady: (n) => kubeNodeNotReady(access, n, 2000), returnTimeoutMs: 3000, pollMs: 30, ...extra,
  };
}

const nodes = [{ name: 'cp1', role: 'controlplane' as const }, { name: 'cp2', role: 'controlplane' as const }, { name: 'cp3', role: 'controlplane' as const }, { name: 'w1', role: 'worker' as const }];
const imagesOf = (e: Env, name: string) => {
  const v1 = parseAllDocuments(e.rack.fakes.get(name)!.applied.at(-1)!.data.toString()).map((d) => d.toJS()).find((d) => d?.version === 'v1alpha1');
  return { api: v1.cluster?.apiServer?.image, cm: v1.cluster?.controllerManager?.image, sched: v1.cluster?.scheduler?.image, proxy: v1.cluster?.proxy?.image, kubelet: v1.machine?.kubelet?.image };
};

it('patches one image at a time in upgrade-k8s order with NO_REBOOT, each static pod Ready on its new image before the next', async () => {
  const e = await setup(241);
  const order: string[] = [];
  for (const [name, f] of e.rack.fakes) {
    const orig = f.accept.bind(f);
    f.accept = (data, mode, ...rest) => {
      const v1 = parseAllDocuments(data.toString()).map((d) => d.toJS()).find((d) => d?.version === 'v1alpha1');
      order.push(`${name} ${mode} api=${v1.cluster?.apiServer?.image ?? '-'} kubelet=${v1.machine?.kubelet?.image ?? '-'}`);
      return orig(data, mode, ...rest);
    };
  }
  const id = planK8sRoll(e.store.db, nodes, '1.35.2');
  const r = await new KubernetesRollout(deps(e)).run(id);
  expect([r.state, r.reason]).toEqual(['done', '']);
  expect(order.every((o) => o.includes(' NO_REBOOT '))).toBe(true);
  expect(order.map((o) => o.split(' ')[0])).toEqual(['cp1', 'cp2', 'cp3', 'cp1', 'cp2', 'cp3', 'cp1', 'cp2', 'cp3', 'cp1', 'cp2', 'cp3', 'cp1', 'cp2', 'cp3', 'w1']);
  // The kubelet moves only in the last steps, after every control plane's static pods.
  expect(order.slice(0, 12).every((o) => !o.includes('kubelet=ghcr.io/siderolabs/kubelet:v1.35.2'))).toBe(true);
  for (const cp of ['cp1', 'cp2', 'cp3']) {
    expect(imagesOf(e, cp)).toEqual({
      api: 'registry.k8s.io/kube-apiserver:v1.35.2', cm: 'registry.k8s.io/kube-controller-manager:v1.35.2', sched: 'registry.k8s.io/kube-scheduler:v1.35.2',
      proxy: 'registry.k8s.io/kube-proxy:v1.35.2', kubelet: 'ghcr.io/siderolabs/kubelet:v1.35.2',
    });
  }
  expect(imagesOf(e, 'w1').kubelet).toBe('ghcr.io/siderolabs/kubelet:v1.35.2');
  // Each static pod step took at least the pod's restart (Ready False, then True) before the next began.
  const rows = rolloutNodes(e.store.db, id);
  for (let i = 1; i < rows.length; i++) expect(rows[i]!.startedAt!).toBeGreaterThanOrEqual(rows[i - 1]!.finishedAt!);
  for (const row of rows.filter((x) => x.node.startsWith('kube-apiserver@'))) expect(row.finishedAt! - row.startedAt!).toBeGreaterThanOrEqual(140);
}, 90_000);

it('pauses at the etcd gate before a step, and on a kubelet whose Kubernetes node stays NotReady', async () => {
  const e = await setup(251);
  const id = planK8sRoll(e.store.db, nodes, '1.35.2');
  await e.rack.etcd.kill('cp3');
  const r = await new KubernetesRollout(deps(e)).run(id);
  expect(r.state).toBe('paused');
  expect(r.reason).toMatch(/^kube-apiserver@cp1: quorum gate: etcd member\(s\) not healthy: cp3/);
  expect([...e.rack.fakes.values()].map((f) => f.applied.length)).toEqual([1, 1, 1, 1]);
  e.rack.etcd.restart('cp3');
  await e.rack.etcd.waitHealthy(['cp1', 'cp2', 'cp3'], 10_000);
  e.kube.nodes.set('w1', 'False');
  resumeRollout(e.store.db);
  const r2 = await new KubernetesRollout(deps(e, { returnTimeoutMs: 500 })).run(id);
  expect(r2.state).toBe('paused');
  expect(r2.reason).toMatch(/^kubelet@w1: Kubernetes node w1 not Ready \(False/);
  e.kube.nodes.set('w1', 'True');
  resumeRollout(e.store.db);
  expect((await new KubernetesRollout(deps(e)).run(id)).state).toBe('done');
  expect(e.rack.fakes.get('w1')!.applied.length).toBe(2);
}, 90_000);

it('restarted at every persisted step, applies each change exactly once', async () => {
  const e = await setup(36);
  const id = planK8sRoll(e.store.db, nodes, '1.35.2');
  const crashed = await crashAtEveryStep({
    maxRuns: 100,
    reopen: () => { e.store.close(); e.store = new Store(join(e.dir, 'rackboot.db')); },
    run: (checkpoint) => new KubernetesRollout(deps(e, { checkpoint })).run(id),
  });
  expect(getRollout(e.store.db, id)!.state).toBe('done');
  // Three persisted steps per row, and the pre-pull once.
  expect(crashed).toHaveLength(16 * 3 + 1);
  // First contact's config, then one apply per step: 5 per control plane, 1 for the worker.
  expect([...e.rack.fakes.values()].map((f) => f.applied.length)).toEqual([6, 6, 6, 2]);
}, 120_000);

it('pre-pulls the new images on every node before the first step (control-plane images into CRI, the kubelet into system); a missing image pauses before any change', async () => {
  const e = await setup(46);
  const missing = 'registry.k8s.io/kube-scheduler:v1.35.9';
  fakeImagePulls(e.rack.fakes.get('cp2')!).missing.add(missing);
  const paused = await new KubernetesRollout(deps(e)).run(planK8sRoll(e.store.db, nodes, '1.35.9'));
  expect(paused.state).toBe('paused');
  expect(paused.reason).toMatch(/^pre-pull: registry\.k8s\.io\/kube-scheduler:v1\.35\.9 on cp2: .*not found/);
  expect([...e.rack.fakes.values()].map((f) => f.applied.length)).toEqual([1, 1, 1, 1]);
  fakeImagePulls(e.rack.fakes.get('cp2')!).missing.clear();
  for (const f of e.rack.fakes.values()) fakeImagePulls(f).pulls.length = 0;
  resumeRollout(e.store.db);
  expect((await new KubernetesRollout(deps(e)).run(paused.id)).state).toBe('done');
  for (const [name, f] of e.rack.fakes) {
    const pulls = fakeImagePulls(f).pulls;
    // All of them before the node's first one-field apply (only first contact's config was applied by then).
    expect(pulls.every((p) => p.appliedBefore === 1)).toBe(true);
    const want = name === 'w1' ? [] : ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((c) => `NS_CRI registry.k8s.io/${c}:v1.35.9`);
    expect(pulls.map((p) => `${p.namespace} ${p.reference}`)).toEqual([...want, 'NS_SYSTEM ghcr.io/siderolabs/kubelet:v1.35.9']);
  }
}, 90_000);
