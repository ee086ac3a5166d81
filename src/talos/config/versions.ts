// What `talosctl gen config` does differently per Talos release (its
// "version contract", siderolabs/talos pkg/machinery/config/contract.go and
// generate/, v1.11.5, v1.12.0, v1.13.0), reduced to the switches rackboot's
// configs depend on, and the range of releases rackboot supports.

export interface TalosRelease {
  major: number;
  minor: number;
}

/** The Talos releases rackboot renders configs and boot command lines for. */
export const SUPPORTED_RANGE = { from: { major: 1, minor: 11 }, to: { major: 1, minor: 13 }, text: 'v1.11.0 – v1.13.x' } as const;

// Per release (the README's version table): v1.11 one v1alpha1 document,
// consoles kept on GRUB installs via install.extraKernelArgs; v1.12 network
// documents, grubUseUKICmdline, no endpoint SAN; v1.13 as v1.12. All use the
// factory's unified metal installer (quirks.SupportsUnifiedInstaller, ≥ 1.10).

/** Undefined when rackboot supports the release, else why not (for the inventory loader's FILE:LINE message). */
export function unsupportedTalosVersion(v: string): string | undefined {
  if (!/^v?\d+\.\d+\./.test(v)) return `${v} is not a Talos version (vMAJOR.MINOR.PATCH)`;
  const r = parseTalosVersion(v);
  const { from, to } = SUPPORTED_RANGE;
  if (atLeast(r, from.major, from.minor) && !atLeast(r, to.major, to.minor + 1)) return undefined;
  return `Talos ${v} is not supported: rackboot supports ${SUPPORTED_RANGE.text} (its configs, kernel arguments and maintenance handling are checked against those releases' source)`;
}

export function parseTalosVersion(v: string): TalosRelease {
  const m = /^v?(\d+)\.(\d+)\./.exec(v);
  if (!m) throw new Error(`not a Talos version: ${v}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

const atLeast = (r: TalosRelease, major: number, minor: number) => r.major > major || (r.major === major && r.minor >= minor);

/** The Kubernetes version `talosctl gen config` picks when none is given (constants.DefaultKubernetesVersion at the .0 release; later patches of a release move it on). */
export function defaultKubernetesVersion(talosVersion: string): string {
  const r = parseTalosVersion(talosVersion);
  if (atLeast(r, 1, 13)) return '1.36.0';
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
  /** ≥1.12: machine.install.grubUseUKICmdline: true (VersionContract.GrubUseUKICmdlineDefault). */
  grubUseUKICmdline: boolean;
  /** ≤1.11: apiServer.certSANs starts with the endpoint's host (VersionContract.PopulateClusterSANsFromEndpoint). */
  apiServerSANsFromEndpoint: boolean;
}

export function contractFor(talosVersion: string): Contract {
  const r = parseTalosVersion(talosVersion);
  return {
    kubePrism: atLeast(r, 1, 6),
    hostDNS: atLeast(r, 1, 7),
    hostDNSForwardKubeDNS: atLeast(r, 1, 8),
    excludeFromExternalLB: atLeast(r, 1, 8),
    multidoc: atLeast(r, 1, 12),
    grubUseUKICmdline: atLeast(r, 1, 12),
    apiServerSANsFromEndpoint: !atLeast(r, 1, 12),
  };
}
