import { describe, expect, it } from 'vitest';
import { clusterImages, RELEASE_IMAGES } from '../../src/registry/cluster-images.js';
import { parseImageRef } from '../../src/registry/reference.js';

const installer = 'factory.talos.dev/metal-installer/abc:v1.11.5';

describe('clusterImages', () => {
  it('lists what talosctl image default lists for v1.11.5 and Kubernetes 1.34.1, with the factory installer', () => {
    expect(clusterImages({ talosVersion: 'v1.11.5', kubernetesVersion: '1.34.1', cni: 'flannel', installer })).toEqual([
      installer,
      'gcr.io/etcd-development/etcd:v3.6.5',
      'ghcr.io/siderolabs/flannel:v0.27.4',
      'ghcr.io/siderolabs/kubelet:v1.34.1',
      'registry.k8s.io/coredns/coredns:v1.12.4',
      'registry.k8s.io/kube-apiserver:v1.34.1',
      'registry.k8s.io/kube-controller-manager:v1.34.1',
      'registry.k8s.io/kube-proxy:v1.34.1',
      'registry.k8s.io/kube-scheduler:v1.34.1',
      'registry.k8s.io/pause:3.10',
    ]);
  });

  it('v1.13 adds kube-network-policies with flannel and moves etcd to registry.k8s.io; no CNI, no CNI images', () => {
    const withFlannel = clusterImages({ talosVersion: 'v1.13.9', cni: 'flannel', installer });
    expect(withFlannel).toContain('registry.k8s.io/networking/kube-network-policies:v1.1.0');
    expect(withFlannel).toContain('ghcr.io/siderolabs/flannel:v0.28.8');
    expect(withFlannel).toContain('registry.k8s.io/etcd:v3.6.12');
    // No kubernetesVersion: the release's default.
    expect(withFlannel).toContain('registry.k8s.io/kube-apiserver:v1.36.3');
    const none = clusterImages({ talosVersion: 'v1.13.9', cni: 'none', installer });
    expect(none.some((r) => r.includes('flannel') || r.includes('kube-network-policies'))).toBe(false);
    expect(none).toHaveLength(withFlannel.length - 2);
  });

  it('refuses a release it has no list for', () => {
    expect(() => clusterImages({ talosVersion: 'v1.14.0', cni: 'flannel', installer })).toThrow('no image list for Talos v1.14.0');
  });

  it('every row names parseable references, one row per supported release tag', () => {
    for (const [tag, r] of Object.entries(RELEASE_IMAGES)) {
      for (const ref of clusterImages({ talosVersion: tag, cni: 'flannel', installer })) expect(parseImageRef(ref), `${tag}: ${ref}`).toBeDefined();
      expect(r.flannel).toMatch(/^v/);
    }
    expect(Object.keys(RELEASE_IMAGES)).toHaveLength(7 + 12 + 10);
  });
});
