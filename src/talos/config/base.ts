// The v1alpha1 machine config `talosctl gen config` produces for a role
// (siderolabs/talos pkg/machinery/config/generate/init.go and worker.go),
// field for field and in the same key order, minus the deprecated
// `persist: true` that the published JSON schema rejects. Control planes get
// every CA with its key; workers get the OS and Kubernetes CA certificates
// only, with empty keys, exactly as talosctl writes them.
import type { SecretsBundle } from '../secrets.js';
import type { Contract } from './versions.js';
import type { Json } from './patch.js';

export interface BaseInput {
  role: 'controlplane' | 'worker';
  clusterName: string;
  controlPlaneEndpoint: string;
  kubernetesVersion: string;
  /** A /dev path, or upstream's machine.install.diskSelector when rackboot could not resolve the inventory's selector first. */
  installDisk: string | { diskSelector: Record<string, Json> };
  installImage: string;
  cni: 'flannel' | 'none';
  secrets: SecretsBundle;
  contract: Contract;
  /** machine.install.extraKernelArgs (only where the contract keeps the host-built GRUB command line). */
  installExtraKernelArgs?: string[];
}

/** machine.install in the InstallConfig field order: disk, extraKernelArgs, image, wipe, grubUseUKICmdline. */
function install(i: BaseInput): Record<string, Json> {
  const out: Record<string, Json> = typeof i.installDisk === 'string' ? { disk: i.installDisk } : { diskSelector: i.installDisk.diskSelector };
  if (i.installExtraKernelArgs?.length && !i.contract.grubUseUKICmdline) out.extraKernelArgs = [...i.installExtraKernelArgs];
  Object.assign(out, { image: i.installImage, wipe: false });
  if (i.contract.grubUseUKICmdline) out.grubUseUKICmdline = true;
  return out;
}

export const DEFAULT_POD_SUBNET = '10.244.0.0/16';
export const DEFAULT_SERVICE_SUBNET = '10.96.0.0/12';
export const KUBEPRISM_PORT = 7445;

function features(c: Contract): Record<string, Json> {
  const f: Record<string, Json> = c.multidoc ? { diskQuotaSupport: true } : { rbac: true, stableHostname: true, apidCheckExtKeyUsage: true, diskQuotaSupport: true };
  if (c.kubePrism) f.kubePrism = { enabled: true, port: KUBEPRISM_PORT };
  if (c.hostDNS) f.hostDNS = c.hostDNSForwardKubeDNS ? { enabled: true, forwardKubeDNSToHost: true } : { enabled: true };
  return f;
}

function clusterNetwork(cni: BaseInput['cni']): Record<string, Json> {
  const n: Record<string, Json> = { dnsDomain: 'cluster.local', podSubnets: [DEFAULT_POD_SUBNET], serviceSubnets: [DEFAULT_SERVICE_SUBNET] };
  // flannel is Talos's default and gen config leaves `cni` out for it.
  if (cni === 'none') n.cni = { name: 'none' };
  return n;
}

const discovery: Json = { enabled: true, registries: { kubernetes: { disabled: true }, service: {} } };

/** The PodSecurity admission defaults of k8s.DefaultPodSecurityAdmissionControlConfig upstream. */
const podSecurity: Json = {
  name: 'PodSecurity',
  configuration: {
    apiVersion: 'pod-security.admission.config.k8s.io/v1alpha1',
    defaults: { audit: 'restricted', 'audit-version': 'latest', enforce: 'baseline', 'enforce-version': 'latest', warn: 'restricted', 'warn-version': 'latest' },
    exemptions: { namespaces: ['kube-system'], runtimeClasses: [], usernames: [] },
    kind: 'PodSecurityConfiguration',
  },
};

const auditPolicy: Json = { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] };

export function baseConfig(i: BaseInput): Record<string, Json> {
  const s = i.secrets;
  const cp = i.role === 'controlplane';
  const k8s = `v${i.kubernetesVersion}`;
  const machine: Record<string, Json> = {
    type: i.role,
    token: s.trustdinfo.token,
    ca: cp ? { crt: s.certs.os.crt, key: s.certs.os.key } : { crt: s.certs.os.crt, key: '' },
    certSANs: [],
    kubelet: { image: `ghcr.io/siderolabs/kubelet:${k8s}`, defaultRuntimeSeccompProfileEnabled: true, disableManifestsDirectory: true },
    network: {},
    install: install(i),
    registries: {},
    features: features(i.contract),
  };
  if (i.contract.multidoc) delete machine.registries;
  if (cp && i.contract.excludeFromExternalLB) machine.nodeLabels = { 'node.kubernetes.io/exclude-from-external-load-balancers': '' };

  const cluster: Record<string, Json> = {
    id: s.cluster.id,
    secret: s.cluster.secret,
    controlPlane: { endpoint: i.controlPlaneEndpoint },
    clusterName: i.clusterName,
    network: clusterNetwork(i.cni),
    token: s.secrets.bootstraptoken,
  };
  if (!cp) {
    cluster.ca = { crt: s.certs.k8s.crt, key: '' };
    cluster.discovery = discovery;
    return { version: 'v1alpha1', debug: false, machine, cluster };
  }
  if (s.secrets.secretboxencryptionsecret) cluster.secretboxEncryptionSecret = s.secrets.secretboxencryptionsecret;
  else if (s.secrets.aescbcencryptionsecret) cluster.aescbcEncryptionSecret = s.secrets.aescbcencryptionsecret;
  Object.assign(cluster, {
    ca: { crt: s.certs.k8s.crt, key: s.certs.k8s.key },
    aggregatorCA: { crt: s.certs.k8saggregator.crt, key: s.certs.k8saggregator.key },
    serviceAccount: { key: s.certs.k8sserviceaccount.key },
    apiServer: {
      image: `registry.k8s.io/kube-apiserver:${k8s}`,
      // From 1.12 on, gen config no longer copies the endpoint's host here (an empty list is left out).
      ...(i.contract.apiServerSANsFromEndpoint ? { certSANs: [new URL(i.controlPlaneEndpoint).hostname] } : {}),
      ...(i.contract.multidoc ? {} : { disablePodSecurityPolicy: true }),
      admissionControl: [podSecurity],
      auditPolicy,
    },
    controllerManager: { image: `registry.k8s.io/kube-controller-manager:${k8s}` },
    proxy: { image: `registry.k8s.io/kube-proxy:${k8s}` },
    scheduler: { image: `registry.k8s.io/kube-scheduler:${k8s}` },
    discovery,
    etcd: { ca: { crt: s.certs.etcd.crt, key: s.certs.etcd.key } },
    extraManifests: [],
    inlineManifests: [],
  } satisfies Record<string, Json>);
  return { version: 'v1alpha1', debug: false, machine, cluster };
}
