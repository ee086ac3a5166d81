// The steps of a Kubernetes version roll, in the order talosctl's
// upgrade-k8s takes them (pkg/cluster/kubernetes/talos_managed.go Upgrade
// and kubelet.go upgradeKubelet, v1.12.0), each one machine config field on
// one node, applied in place (NO_REBOOT):
// 1. kube-apiserver, then kube-controller-manager, then kube-scheduler,
//    each on every control plane in turn (cluster.apiServer.image,
//    cluster.controllerManager.image, cluster.scheduler.image);
// 2. kube-proxy on every control plane (cluster.proxy.image; the DaemonSet
//    is rendered by the control planes);
// 3. the kubelet on every node, control planes first, then workers
//    (machine.kubelet.image).
// A step whose field already names the target image is skipped (upstream
// staticPodImage: "update skipped"). Image names are upstream's defaults
// (pkg/machinery/constants/constants.go v1.12.0), tagged v<version>.
// Pure: no I/O; k8s-roll.ts runs the steps.
import { parseDocument } from 'yaml';

export type K8sComponent = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy' | 'kubelet';

export const COMPONENT_FIELD: Record<K8sComponent, { path: string[]; image: string }> = {
  'kube-apiserver': { path: ['cluster', 'apiServer', 'image'], image: 'registry.k8s.io/kube-apiserver' },
  'kube-controller-manager': { path: ['cluster', 'controllerManager', 'image'], image: 'registry.k8s.io/kube-controller-manager' },
  'kube-scheduler': { path: ['cluster', 'scheduler', 'image'], image: 'registry.k8s.io/kube-scheduler' },
  'kube-proxy': { path: ['cluster', 'proxy', 'image'], image: 'registry.k8s.io/kube-proxy' },
  kubelet: { path: ['machine', 'kubelet', 'image'], image: 'ghcr.io/siderolabs/kubelet' },
};

export interface K8sStep { node: string; component: K8sComponent; image: string }

/** The target image of a component: `<upstream image>:v<version>` (a leading "v" on `version` is accepted). */
export function componentImage(component: K8sComponent, version: string): string {
  return `${COMPONENT_FIELD[component].image}:v${version.replace(/^v/, '')}`;
}

/** Every step, in upstream's order; control planes and workers in the order given. */
export function k8sRollSteps(nodes: { name: string; role: 'controlplane' | 'worker' }[], version: string): K8sStep[] {
  const cps = nodes.filter((n) => n.role === 'controlplane').map((n) => n.name);
  const workers = nodes.filter((n) => n.role === 'worker').map((n) => n.name);
  const steps: K8sStep[] = [];
  for (const component of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const) {
    for (const node of cps) steps.push({ node, component, image: componentImage(component, version) });
  }
  for (const node of [...cps, ...workers]) steps.push({ node, component: 'kubelet', image: componentImage('kubelet', version) });
  return steps;
}

/**
 * The node's config with the step's one field set to its image, every other
 * byte of meaning kept (later documents of a multi-document config too).
 * `changed` is false when the field already names the image: the step is skipped.
 */
export function patchForStep(config: string, step: K8sStep): { config: string; changed: boolean } {
  const docs = config.split(/^---\s*$/m);
  const i = docs.findIndex((d) => {
    const v = parseDocument(d).toJS() as { version?: string } | null;
    return v?.version === 'v1alpha1';
  });
  if (i < 0) throw new Error('the config has no v1alpha1 document');
  const doc = parseDocument(docs[i]!);
  const path = COMPONENT_FIELD[step.component].path;
  if (doc.getIn(path) === step.image) return { config, changed: false };
  doc.setIn(path, step.image);
  docs[i] = (i > 0 ? '\n' : '') + doc.toString();
  return { config: docs.join('---'), changed: true };
}
