// Lab and test use only.
// What a Kubernetes version roll reads on a configured fake node, as COSI
// resources (served by resources.ts's read calls):
// - MachineConfig (type MachineConfigs.config.talos.dev, namespace config,
//   id "v1alpha1" = config.ActiveID; pkg/machinery/resources/config/
//   machine_config.go v1.12.0): the active config, which talosctl's
//   upgrade-k8s reads before patching one field (pkg/cluster/kubernetes/
//   patch.go patchNodeConfig, v1.12.0). Its spec's YAML is one string
//   scalar holding the config text (v1alpha1Spec.MarshalYAML in
//   machine_config.go: "presented as raw YAML string").
//   Upstream it needs os:admin (sensitive); the fake does not check that.
// - StaticPodStatus (type StaticPodStatuses.kubernetes.talos.dev, namespace
//   k8s, id "<pod namespace>/<pod name>", e.g.
//   "kube-system/kube-apiserver-cp1"; the YAML is the pod's status:
//   pkg/machinery/resources/k8s/static_pod_status.go and
//   internal/app/machined/pkg/controllers/k8s/kubelet_static_pod.go
//   v1.12.0). On a control plane: kube-apiserver, kube-controller-manager,
//   kube-scheduler, each running the image its cluster.<x>.image names. When
//   that image changes (an in-place apply), the kubelet restarts the pod:
//   for STATIC_POD_RESTART_MS it reports Ready "False", then "True".
import { parseAllDocuments, stringify } from 'yaml';

export const MACHINE_CONFIG_TYPE = 'MachineConfigs.config.talos.dev';
export const STATIC_POD_STATUS_TYPE = 'StaticPodStatuses.kubernetes.talos.dev';
export const STATIC_POD_RESTART_MS = 150;

const PODS = [['kube-apiserver', 'apiServer'], ['kube-controller-manager', 'controllerManager'], ['kube-scheduler', 'scheduler']] as const;

export interface StaticPodNode {
  readonly opts: { hostname: string };
  readonly config?: { type: string };
}

/** When each pod's image was first seen changed, per node. */
const changedAt = new WeakMap<object, Map<string, { image: string; at: number }>>();

export function k8sResources(n: StaticPodNode, active: Buffer | undefined): { namespace: string; type: string; id: string; spec: Record<string, unknown> | string }[] {
  if (!active) return [];
  const out: { namespace: string; type: string; id: string; spec: Record<string, unknown> | string }[] = [
    { namespace: 'config', type: MACHINE_CONFIG_TYPE, id: 'v1alpha1', spec: stringify(active.toString()) },
  ];
  if (n.config?.type !== 'controlplane') return out;
  let v1: any;
  try {
    v1 = parseAllDocuments(active.toString()).map((d) => d.toJS()).find((d: any) => d?.version === 'v1alpha1');
  } catch {
    return out;
  }
  let seen = changedAt.get(n);
  if (!seen) changedAt.set(n, (seen = new Map()));
  for (const [pod, field] of PODS) {
    const image = v1?.cluster?.[field]?.image ?? `registry.k8s.io/${pod}:unknown`;
    const last = seen.get(pod);
    // The first sight of a pod is a running pod; a later image change restarts it.
    if (!last) seen.set(pod, { image, at: 0 });
    else if (last.image !== image) seen.set(pod, { image, at: Date.now() });
    const ready = Date.now() - seen.get(pod)!.at >= STATIC_POD_RESTART_MS;
    out.push({ namespace: 'k8s', type: STATIC_POD_STATUS_TYPE, id: `kube-system/${pod}-${n.opts.hostname}`, spec: {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: ready ? 'True' : 'False' }, { type: 'ContainersReady', status: ready ? 'True' : 'False' }],
      containerStatuses: [{ name: pod, image, ready, restartCount: 0 }],
    } });
  }
  return out;
}
