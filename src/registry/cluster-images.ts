// The images a cluster pulls, derived the way `talosctl image default`
// (v1.11, v1.12) and `talosctl images k8s-bundle` (v1.13) derive them
// (siderolabs/talos cmd/talosctl/cmd/talos/image.go and pkg/images/list.go
// at each tag): etcd and CoreDNS at the release's built-in versions
// (pkg/machinery/constants DefaultEtcdVersion/EtcdImage,
// DefaultCoreDNSVersion/CoreDNSImage), the four control-plane images from
// registry.k8s.io and the kubelet from ghcr.io/siderolabs at the cluster's
// Kubernetes version, containerd's sandbox image (pkg/images
// DefaultSandboxImage), and Talos's flannel mirror at constants.FlannelVersion
// (v1.13 adds kube-network-policies, which its flannel manifests run).
// talosctl's generic installer is replaced by the factory installer our
// configs install from (installerImage), since the schematic decides it.
import { installerImage, schematicId, type SchematicInput } from '../factory/schematic.js';
import { ImageStore } from './image-store.js';
import { parseImageRef } from './reference.js';

export interface ReleaseImages {
  /** constants.DefaultKubernetesVersion at the tag (the kubelet etc. when the inventory names none). */
  kubernetes: string;
  etcd: string;
  coredns: string;
  /** constants.FlannelVersion; talosctl prints it as a semver with a leading v. */
  flannel: string;
  pause: string;
  /** constants.KubeNetworkPoliciesVersion (listed from v1.13). */
  kubeNetworkPolicies?: string;
}

// Read from each tag of the upstream source (see above); one row per release.
export const RELEASE_IMAGES: Readonly<Record<string, ReleaseImages>> = {
  'v1.11.0': { kubernetes: '1.34.0', etcd: 'gcr.io/etcd-development/etcd:v3.6.4', coredns: 'registry.k8s.io/coredns/coredns:v1.12.2', flannel: 'v0.27.2', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.1': { kubernetes: '1.34.0', etcd: 'gcr.io/etcd-development/etcd:v3.6.4', coredns: 'registry.k8s.io/coredns/coredns:v1.12.3', flannel: 'v0.27.2', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.2': { kubernetes: '1.34.1', etcd: 'gcr.io/etcd-development/etcd:v3.6.4', coredns: 'registry.k8s.io/coredns/coredns:v1.12.3', flannel: 'v0.27.2', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.3': { kubernetes: '1.34.1', etcd: 'gcr.io/etcd-development/etcd:v3.6.5', coredns: 'registry.k8s.io/coredns/coredns:v1.12.4', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.4': { kubernetes: '1.34.1', etcd: 'gcr.io/etcd-development/etcd:v3.6.5', coredns: 'registry.k8s.io/coredns/coredns:v1.12.4', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.5': { kubernetes: '1.34.1', etcd: 'gcr.io/etcd-development/etcd:v3.6.5', coredns: 'registry.k8s.io/coredns/coredns:v1.12.4', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.11.6': { kubernetes: '1.34.1', etcd: 'gcr.io/etcd-development/etcd:v3.6.5', coredns: 'registry.k8s.io/coredns/coredns:v1.12.4', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.0': { kubernetes: '1.35.0', etcd: 'registry.k8s.io/etcd:v3.6.7', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.1': { kubernetes: '1.35.0', etcd: 'registry.k8s.io/etcd:v3.6.7', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.2': { kubernetes: '1.35.0', etcd: 'registry.k8s.io/etcd:v3.6.7', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.3': { kubernetes: '1.35.0', etcd: 'registry.k8s.io/etcd:v3.6.7', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.4': { kubernetes: '1.35.0', etcd: 'registry.k8s.io/etcd:v3.6.7', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.5': { kubernetes: '1.35.2', etcd: 'registry.k8s.io/etcd:v3.6.8', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.6': { kubernetes: '1.35.2', etcd: 'registry.k8s.io/etcd:v3.6.8', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.7': { kubernetes: '1.35.4', etcd: 'registry.k8s.io/etcd:v3.6.9', coredns: 'registry.k8s.io/coredns/coredns:v1.13.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10' },
  'v1.12.8': { kubernetes: '1.35.4', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.3', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10.1' },
  'v1.12.9': { kubernetes: '1.35.4', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10.1' },
  'v1.12.10': { kubernetes: '1.35.4', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10.1' },
  'v1.12.11': { kubernetes: '1.35.4', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.27.4', pause: 'registry.k8s.io/pause:3.10.1' },
  'v1.13.0': { kubernetes: '1.36.0', etcd: 'registry.k8s.io/etcd:v3.6.9', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.4', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.1': { kubernetes: '1.36.0', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.4', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.2': { kubernetes: '1.36.0', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.4', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.3': { kubernetes: '1.36.1', etcd: 'registry.k8s.io/etcd:v3.6.11', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.4', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.4': { kubernetes: '1.36.1', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.5', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.5': { kubernetes: '1.36.2', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.5', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  'v1.13.6': { kubernetes: '1.36.2', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.2', flannel: 'v0.28.5', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.0.0' },
  // From v1.13.7 the constant lost its "v"; talosctl's semver flag prints it back.
  'v1.13.7': { kubernetes: '1.36.2', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.4', flannel: 'v0.28.7', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.1.0' },
  'v1.13.8': { kubernetes: '1.36.2', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.6', flannel: 'v0.28.8', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.1.0' },
  'v1.13.9': { kubernetes: '1.36.3', etcd: 'registry.k8s.io/etcd:v3.6.12', coredns: 'registry.k8s.io/coredns/coredns:v1.14.6', flannel: 'v0.28.8', pause: 'registry.k8s.io/pause:3.10.1', kubeNetworkPolicies: 'v1.1.0' },
};

export interface ClusterImageInputs {
  talosVersion: string;
  /** Without the leading v, as in the inventory; absent: the release's default. */
  kubernetesVersion?: string;
  cni: 'flannel' | 'none';
  /** The factory installer our configs name (installerImage()). */
  installer: string;
}

/** Every image reference the cluster will pull, installer first, sorted after it. */
export function clusterImages(i: ClusterImageInputs): string[] {
  const r = RELEASE_IMAGES[i.talosVersion];
  if (!r) throw new Error(`rackboot has no image list for Talos ${i.talosVersion} (it knows ${Object.keys(RELEASE_IMAGES)[0]} – ${Object.keys(RELEASE_IMAGES).at(-1)})`);
  const k8s = `v${(i.kubernetesVersion ?? r.kubernetes).replace(/^v/, '')}`;
  const list = [
    r.etcd, r.coredns, r.pause,
    `registry.k8s.io/kube-apiserver:${k8s}`,
    `registry.k8s.io/kube-controller-manager:${k8s}`,
    `registry.k8s.io/kube-scheduler:${k8s}`,
    `registry.k8s.io/kube-proxy:${k8s}`,
    `ghcr.io/siderolabs/kubelet:${k8s}`,
  ];
  if (i.cni === 'flannel') {
    list.push(`ghcr.io/siderolabs/flannel:${r.flannel}`);
    if (r.kubeNetworkPolicies) list.push(`registry.k8s.io/networking/kube-network-policies:${r.kubeNetworkPolicies}`);
  }
  return [i.installer, ...list.sort()];
}

/** The inventory cluster's images, with the factory installer its configs name. */
export function inventoryImages(factoryUrl: string, c: { talosVersion: string; kubernetesVersion?: string; cni: 'flannel' | 'none'; schematic: SchematicInput }): string[] {
  return clusterImages({
    talosVersion: c.talosVersion, kubernetesVersion: c.kubernetesVersion, cni: c.cni,
    installer: installerImage(factoryUrl, schematicId(c.schematic), c.talosVersion),
  });
}

/** Each reference with whether the image cache under `dataDir` holds it. */
export function imagePresence(dataDir: string, refs: string[]): { ref: string; present: boolean }[] {
  const held = new Set(new ImageStore(dataDir).images().map((i) => `${i.name}:${i.tag}`));
  return refs.map((ref) => {
    const p = parseImageRef(ref);
    return { ref, present: p !== undefined && held.has(`${p.name}:${p.tag}`) };
  });
}
