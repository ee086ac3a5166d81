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
import { isDeepStrictEqual } from 'node:util';
import { isScalar, parseAllDocuments } from 'yaml';

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
 * The node's config with the step's one field set to its image. The
 * documents are found by a YAML parse of the whole stream (parseAllDocuments),
 * not by splitting on `---` lines, so a marker with a comment or a `...`
 * end is read as YAML reads it. Every byte outside the change is kept: an
 * existing field has only its value replaced in the text; a missing one is
 * added by re-writing that one document in its place.
 * `changed` is false when the field already names the image: the step is skipped.
 */
export function patchForStep(config: string, step: K8sStep): { config: string; changed: boolean } {
  const docs = parseAllDocuments(config);
  if (!Array.isArray(docs)) throw new Error('the config is empty');
  const bad = docs.find((d) => d.errors.length);
  if (bad) throw new Error(`the config is not YAML: ${bad.errors[0]!.message}`);
  const doc = docs.find((d) => (d.toJS() as { version?: string } | null)?.version === 'v1alpha1');
  if (!doc) throw new Error('the config has no v1alpha1 document');
  const path = COMPONENT_FIELD[step.component].path;
  if (doc.getIn(path) === step.image) return { config, changed: false };
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range) {
    const quote = node.type === 'QUOTE_DOUBLE' ? '"' : node.type === 'QUOTE_SINGLE' ? "'" : '';
    const text = config.slice(0, node.range[0]) + quote + step.image + quote + config.slice(node.range[1]);
    if (sameButField(config, text, path, step.image)) return { config: text, changed: true };
  }
  doc.setIn(path, step.image);
  const [start, , end] = doc.range;
  const text = config.slice(0, start) + doc.toString({ lineWidth: 0 }) + config.slice(end);
  if (!sameButField(config, text, path, step.image)) throw new Error(`could not set ${path.join('.')} without changing anything else`);
  return { config: text, changed: true };
}

/** Whether `after` reads as `before` with only `path` of the v1alpha1 document set to `value`. */
function sameButField(before: string, after: string, path: string[], value: string): boolean {
  const read = (t: string) => {
    const docs = parseAllDocuments(t);
    return Array.isArray(docs) && !docs.some((d) => d.errors.length) ? docs : undefined;
  };
  const a = read(before);
  const b = read(after);
  if (!a || !b || a.length !== b.length) return false;
  return a.every((d, i) => {
    const want = d.clone();
    if ((want.toJS() as { version?: string } | null)?.version === 'v1alpha1') want.setIn(path, value);
    return isDeepStrictEqual(want.toJS(), b[i]!.toJS());
  });
}
