// What `talosctl gen config` does differently per Talos release (its
// "version contract"), reduced to the switches rackboot's configs depend on.

export interface TalosRelease {
  major: number;
  minor: number;
}

export function parseTalosVersion(v: string): TalosRelease {
  const m = /^v?(\d+)\.(\d+)\./.exec(v);
  if (!m) throw new Error(`not a Talos version: ${v}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

const atLeast = (r: TalosRelease, major: number, minor: number) => r.major > major || (r.major === major && r.minor >= minor);

/** The Kubernetes version `talosctl gen config` picks when none is given (constants.DefaultKubernetesVersion). */
export function defaultKubernetesVersion(talosVersion: string): string {
  const r = parseTalosVersion(talosVersion);
  if (atLeast(r, 1, 12)) return '1.35.0';
  if (atLeast(r, 1, 11)) return '1.34.1';
  if (atLeast(r, 1, 10)) return '1.33.5';
  return '1.32.9';
}

export interface Contract {
  /** ≥1.5: kubePrism on by default (port 7445). */
  kubePrism: boolean;
  /** ≥1.7: hostDNS on; ≥1.8 also forwards kube-dns to the host. */
  hostDNS: boolean;
  hostDNSForwardKubeDNS: boolean;
  /** ≥1.8: node label excluding control planes from external load balancers. */
  excludeFromExternalLB: boolean;
  /**
   * ≥1.12: hostname, addresses, routes and resolvers live in their own
   * documents (HostnameConfig, LinkConfig, ResolverConfig), and the legacy
   * v1alpha1 fields (machine.network.*, machine.registries, features.rbac,
   * stableHostname, apidCheckExtKeyUsage, apiServer.disablePodSecurityPolicy)
   * are no longer emitted — the v1.12 schema rejects them.
   */
  multidoc: boolean;
}

export function contractFor(talosVersion: string): Contract {
  const r = parseTalosVersion(talosVersion);
  return {
    kubePrism: atLeast(r, 1, 6),
    hostDNS: atLeast(r, 1, 7),
    hostDNSForwardKubeDNS: atLeast(r, 1, 8),
    excludeFromExternalLB: atLeast(r, 1, 8),
    multidoc: atLeast(r, 1, 12),
  };
}
