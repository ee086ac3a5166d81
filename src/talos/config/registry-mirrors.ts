// With `registry.mirror: true`, nodes pull the installer and every cluster
// image from the appliance's /v2/ endpoint. Talos ≤ 1.11 takes mirrors in
// machine.registries.mirrors; from 1.12 `talosctl gen config` writes one
// RegistryMirrorConfig document per registry instead (generate/registry.go,
// v1.12.0: the old field only when the contract predates multidoc configs;
// the v1.12 schema no longer has it). containerd then asks the mirror for
// /v2/<path>?ns=<registry>, which the endpoint maps back to the full name.
import type { Json } from './patch.js';

/** Registries whose images a cluster pulls (cluster-images.ts): etcd came from gcr.io up to v1.11. */
export const MIRRORED_REGISTRIES = ['docker.io', 'gcr.io', 'ghcr.io', 'registry.k8s.io'] as const;

export interface RegistryMirror {
  /** The appliance's boot-plane URL (http://host:port), which serves /v2/. */
  url: string;
  /** The site has no route out: containerd must not fall back to the upstream registry. */
  offline: boolean;
  /** The Image Factory's host (the installer's registry), from settings.factory.url. */
  factoryHost: string;
}

/** Undefined unless registry.mirror is on; one function so pulled, pushed and printed configs agree. */
export function registryMirrorTarget(registry: { mirror: boolean; offline: boolean }, factoryUrl: string, publicUrl: string): RegistryMirror | undefined {
  return registry.mirror ? { url: publicUrl, offline: registry.offline, factoryHost: new URL(factoryUrl).host } : undefined;
}

function hosts(m: RegistryMirror): string[] {
  return [...new Set([m.factoryHost, ...MIRRORED_REGISTRIES])];
}

/** machine.registries for the v1alpha1 document (Talos 1.11). */
export function legacyRegistries(m: RegistryMirror): Json {
  const mirrors: Record<string, Json> = {};
  for (const h of hosts(m)) mirrors[h] = { endpoints: [m.url], ...(m.offline ? { skipFallback: true } : {}) };
  return { mirrors };
}

/** RegistryMirrorConfig documents (Talos ≥ 1.12). */
export function registryMirrorDocuments(m: RegistryMirror): Record<string, Json>[] {
  return hosts(m).map((h) => ({
    apiVersion: 'v1alpha1', kind: 'RegistryMirrorConfig', name: h,
    endpoints: [{ url: m.url }],
    ...(m.offline ? { skipFallback: true } : {}),
  }));
}
