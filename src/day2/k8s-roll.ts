// A Kubernetes version roll, run from the store's rollout rows (kind
// "kubernetes", one row per step: `<component>@<node>`, in the order of
// k8s-roll-plan.ts). Each step, as talosctl's upgrade-k8s does it
// (pkg/cluster/kubernetes/patch.go patchNodeConfig and talos_managed.go,
// v1.12.0): read the node's active machine config (COSI MachineConfig
// "v1alpha1"), set the one image field, send it back with ApplyConfiguration
// mode NO_REBOOT; then, for a static pod, wait until the node's
// StaticPodStatus for it runs the new image and is Ready; for the kubelet,
// until the kubelet service is healthy and its Kubernetes node Ready.
// Before the first step every node pre-pulls its new images (prePull).
// Before each step etcd must pass the quorum gate (nothing goes down, so no
// member is taken out of the count). Any failure pauses the rollout.
//
// Never twice: 'calling' is committed before the apply. A step found at
// 'calling' reads the node's config again: a field already on the image
// means the apply landed (nothing is sent); otherwise it did not, and the
// same one-field change is sent (a config apply that did not land was
// never applied).
import * as grpc from '@grpc/grpc-js';
import type Database from 'better-sqlite3';
import type { Store } from '../store/store.js';
import { TalosCallError } from '../talos/errors.js';
import { parse } from 'yaml';
import type { Logger } from '../log.js';
import type { RolloutNodeRecord, RolloutRecord, RolloutStore } from '../store/rollouts.js';
import { rolloutsOf } from '../store/pg/pg-rollouts.js';
import { componentImage, k8sRollSteps, patchForStep, type K8sComponent, type K8sStep } from './k8s-roll-plan.js';
import { recordKubernetesVersion } from './applied.js';
import { checkQuorum, type ControlPlane } from './quorum-gate.js';
import { runClaimed } from './rollout.js';
import { StoppableRun, type NodeTalosDeps } from './stoppable-run.js';
import { activeMachineConfig } from './k8s-upgrade-checks.js';

export { MACHINE_CONFIG } from './k8s-upgrade-checks.js';

export const K8S_ROLLOUT_KIND = 'kubernetes';
export const STATIC_POD_STATUS = { namespace: 'k8s', type: 'StaticPodStatuses.kubernetes.talos.dev' } as const;

export interface K8sRollDeps extends NodeTalosDeps {
  /** Where the rollout rows are: a store (PostgreSQL's with scaleOut.postgres) or a SQLite handle. */
  db: Database.Database | Store;
  /** Where node_config is (the daemon's store: shared with scaleOut.postgres); `db` when absent. */
  nodeConfigIn?: Store;
  /** Every control plane, for the etcd gate. */
  controlPlanes: () => ControlPlane[];
  kubeNodeNotReady: (node: string) => Promise<string | undefined>;
  returnTimeoutMs: number;
  pollMs: number;
  log?: Logger;
  /** Tests: called at each persisted step; a throw here is a crash at that point. */
  checkpoint?: (row: string, step: string) => void;
  /** Who runs it (see RolloutDeps.driver). */
  driver?: () => Promise<number>;
}

/** The row name of a step, and back. */
export const stepRow = (s: { component: K8sComponent; node: string }) => `${s.component}@${s.node}`;
function stepOf(row: RolloutNodeRecord, version: string): K8sStep {
  const at = row.node.indexOf('@');
  const component = row.node.slice(0, at) as K8sComponent;
  return { component, node: row.node.slice(at + 1), image: componentImage(component, version) };
}

/** Records a roll of `nodes` to Kubernetes `version`: one row per step, in upstream's order. */
export function planK8sRoll(db: Database.Database | Store, nodes: { name: string; role: 'controlplane' | 'worker' }[], version: string): number {
  if (nodes.length === 0) throw new Error('no installed nodes');
  const role = new Map(nodes.map((n) => [n.name, n.role]));
  return rolloutsOf(db).create({
    kind: K8S_ROLLOUT_KIND, targetVersion: version, schematic: '', image: '',
    nodes: k8sRollSteps(nodes, version).map((st) => ({ node: stepRow(st), role: role.get(st.node)!, versionBefore: '', done: false })),
  });
}

export class KubernetesRollout extends StoppableRun<K8sRollDeps> {
  private readonly rollouts: RolloutStore;

  constructor(deps: K8sRollDeps) {
    super(deps);
    this.rollouts = rolloutsOf(deps.db);
  }

  private activeConfig(node: string): Promise<string> {
    return this.ask(node, activeMachineConfig);
  }

  async run(id: number): Promise<RolloutRecord> {
    const db = this.rollouts;
    const r = db.get(id);
    if (!r) throw new Error(`no rollout ${id}`);
    if (r.kind !== K8S_ROLLOUT_KIND) throw new Error(`rollout ${id} is a ${r.kind} rollout`);
    if (r.state !== 'running') return r;
    return runClaimed(db, id, this.deps.driver, async () => {
      if (!r.assetsReady) {
        const problem = await this.prePull(r);
        if (problem) {
          db.setState(id, 'paused', `pre-pull: ${problem}`);
          return db.get(id)!;
        }
        db.markAssetsReady(id);
        this.deps.checkpoint?.('pre-pull', 'done');
      }
      for (const row of db.nodes(id)) {
        this.throwIfStopped();
        if (db.get(id)!.state !== 'running') return db.get(id)!;
        const problem = await this.step(r, row);
        if (problem) {
          db.setState(id, 'paused', `${row.node}: ${problem}`);
          this.deps.log?.warn({ rollout: id, step: row.node, problem }, 'kubernetes roll paused');
          return db.get(id)!;
        }
      }
      db.setState(id, 'done');
      return db.get(id)!;
    });
  }

  /**
   * Before the first step, as upgrade-k8s does (talos_managed.go prePullImages,
   * v1.12.0): every control plane pulls the new apiserver, controller-manager
   * and scheduler images into the CRI namespace, every node the new kubelet
   * into the system one. A node without ImagePull (Unimplemented) is passed;
   * any other failure is why the roll pauses. Pulling twice is harmless, so a
   * restart before it is recorded pulls again.
   */
  private async prePull(r: RolloutRecord): Promise<string | undefined> {
    const rows = this.rollouts.nodes(r.id).map((row) => stepOf(row, r.targetVersion));
    const pulls = [
      ...rows.filter((s) => s.component === 'kube-apiserver' || s.component === 'kube-controller-manager' || s.component === 'kube-scheduler').map((s) => ({ node: s.node, ns: 'NS_CRI' as const, image: s.image })),
      ...rows.filter((s) => s.component === 'kubelet').map((s) => ({ node: s.node, ns: 'NS_SYSTEM' as const, image: s.image })),
    ];
    for (const p of pulls) {
      this.throwIfStopped();
      try {
        await this.ask(p.node, (c) => c.imagePull(p.ns, p.image));
      } catch (err) {
        if (err instanceof TalosCallError && err.code === grpc.status.UNIMPLEMENTED) continue;
        return `${p.image} on ${p.node}: ${(err as Error).message}`;
      }
    }
    return undefined;
  }

  private async step(r: RolloutRecord, row: RolloutNodeRecord): Promise<string | undefined> {
    const db = this.rollouts;
    const s = stepOf(row, r.targetVersion);
    const mark = (state: RolloutNodeRecord['state'], extra: Parameters<RolloutStore['setNodeStep']>[3] = {}) => {
      db.setNodeStep(r.id, row.node, state, extra);
      this.deps.checkpoint?.(row.node, state);
    };
    const hold = (state: RolloutNodeRecord['state'], why: string) => {
      db.setNodeStep(r.id, row.node, state, { reason: why });
      return why;
    };
    let state = row.state;
    if (state === 'done') return undefined;
    if (state === 'failed') return row.reason || 'failed';
    if (state === 'pending') {
      const gate = await checkQuorum(this.deps.controlPlanes(), this.deps.connect);
      if (!gate.ok) return hold('pending', `quorum gate: ${gate.reason}`);
      mark('calling', { started: Date.now() });
      state = 'calling';
    }
    if (state === 'calling') {
      let patched;
      try {
        patched = patchForStep(await this.activeConfig(s.node), s);
        if (patched.changed) await this.ask(s.node, (c) => c.applyConfiguration(Buffer.from(patched!.config), 'NO_REBOOT'));
      } catch (err) {
        const why = `config patch: ${(err as Error).message}`;
        mark('failed', { reason: why, finished: Date.now() });
        return why;
      }
      mark('called', { reason: patched.changed ? '' : 'already on the image' });
    }
    const unready = await this.settled(s);
    if (unready) return hold('called', unready);
    // The kubelet is a node's last step: from now on it runs the new version (plan and apply read this).
    if (s.component === 'kubelet') recordKubernetesVersion(this.deps.nodeConfigIn ?? this.deps.db, s.node, r.targetVersion);
    mark('done', { versionAfter: s.image, finished: Date.now() });
    return undefined;
  }

  /** Polled within the return window: the static pod on the new image and Ready; the kubelet healthy and its node Ready. */
  private async settled(s: K8sStep): Promise<string | undefined> {
    const end = Date.now() + this.deps.returnTimeoutMs;
    for (;;) {
      let why: string | undefined;
      try {
        why = await this.check(s);
      } catch (err) {
        why = (err as Error).message;
      }
      if (!why) return undefined;
      if (Date.now() > end) return `${why} after ${this.deps.returnTimeoutMs} ms`;
      await this.wait(this.deps.pollMs);
    }
  }

  private async check(s: K8sStep): Promise<string | undefined> {
    if (s.component === 'kube-proxy') return undefined; // a DaemonSet rendered by the control planes: upstream waits for nothing here
    if (s.component === 'kubelet') {
      const services = await this.ask(s.node, (c) => c.serviceList());
      if (!services.find((x) => x.id === 'kubelet')?.health?.healthy) return 'kubelet service not healthy';
      return this.deps.kubeNodeNotReady(s.node);
    }
    const id = `kube-system/${s.component}-${s.node}`;
    const res = (await this.ask(s.node, (c) => c.listResources(STATIC_POD_STATUS.namespace, STATIC_POD_STATUS.type))).find((x) => x.metadata?.id === id);
    if (!res?.spec) return `no static pod ${id}`;
    const status = parse(res.spec.yaml_spec) as { conditions?: { type: string; status: string }[]; containerStatuses?: { image?: string }[] };
    const image = status.containerStatuses?.[0]?.image;
    if (image !== s.image) return `static pod ${id} runs ${image ?? 'no image'}, not ${s.image}`;
    if (status.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return `static pod ${id} not Ready`;
    return undefined;
  }
}
