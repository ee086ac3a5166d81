// What talosctl upgrade-k8s refuses before it changes anything
// (pkg/cluster/kubernetes/talos_managed.go Upgrade, v1.12.0), restated:
// - the upgrade path (siderolabs/go-kubernetes kubernetes/upgrade/path.go
//   Path.IsSupported): from a Kubernetes version to the same minor or the
//   next one, never down and never over a minor. "From" is what each control
//   plane's kube-apiserver runs now (its active config's image tag, or the
//   Talos release's default when the config names none);
// - every node's Talos supports the target (compat.go
//   VerifyVersionCompatibility over pkg/machinery/compatibility/talosNNN:
//   Talos 1.11 runs Kubernetes 1.29.0–1.34.x, 1.12 runs 1.30.0–1.35.x,
//   1.13 runs 1.31.0–1.36.x, at v1.13.0).
// Both run before the roll is recorded, so a refusal leaves no step behind.
import { parse, parseAllDocuments } from 'yaml';
import type { TalosClient } from '../talos/client.js';
import { defaultKubernetesVersion } from '../talos/config/versions.js';

export const MACHINE_CONFIG = { namespace: 'config', type: 'MachineConfigs.config.talos.dev', id: 'v1alpha1' } as const;

/** The node's active machine config as text (COSI MachineConfig "v1alpha1"). */
export async function activeMachineConfig(c: TalosClient): Promise<string> {
  const r = (await c.listResources(MACHINE_CONFIG.namespace, MACHINE_CONFIG.type)).find((x) => x.metadata?.id === MACHINE_CONFIG.id);
  if (!r?.spec?.yaml_spec) throw new Error('the node has no active machine config');
  // The spec's YAML is the config text as one string (machine_config.go v1alpha1Spec.MarshalYAML, v1.12.0).
  const text = parse(r.spec.yaml_spec) as unknown;
  if (typeof text !== 'string') throw new Error('the MachineConfig resource does not hold the config as text');
  return text;
}

const semver = (v: string) => {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) } : undefined;
};

/** Why upstream refuses Kubernetes `from` → `to`, undefined when it allows it. */
export function k8sUpgradePathProblem(from: string, to: string): string | undefined {
  const a = semver(from);
  const b = semver(to);
  if (!a || !b) return `not a Kubernetes version: ${!a ? from : to}`;
  const path = `${a.major}.${a.minor}->${b.major}.${b.minor}`;
  if (a.major === b.major && (b.minor === a.minor || b.minor === a.minor + 1)) return undefined;
  return `unsupported upgrade path ${path} (from ${from} to ${to}): Kubernetes moves up one minor version at a time, never down`;
}

/** The Kubernetes versions each Talos minor supports (pkg/machinery/compatibility/talos111..talos113, v1.13.0). */
const TALOS_K8S: Record<string, { min: string; maxMinor: number }> = {
  '1.11': { min: '1.29.0', maxMinor: 34 },
  '1.12': { min: '1.30.0', maxMinor: 35 },
  '1.13': { min: '1.31.0', maxMinor: 36 },
};

/** Why Talos `talos` cannot run Kubernetes `k8s`, undefined when it can (or the Talos minor is not one rackboot knows). */
export function k8sTalosProblem(talos: string, k8s: string): string | undefined {
  const t = semver(talos);
  const k = semver(k8s);
  if (!t || !k) return `not a version: ${!t ? talos : k8s}`;
  const range = TALOS_K8S[`${t.major}.${t.minor}`];
  if (!range) return undefined;
  const min = semver(range.min)!;
  const tooOld = k.major < min.major || (k.major === min.major && (k.minor < min.minor || (k.minor === min.minor && k.patch < min.patch)));
  if (!tooOld && k.major === 1 && k.minor <= range.maxMinor) return undefined;
  return `Talos ${talos} supports Kubernetes ${range.min} to 1.${range.maxMinor}.x, not ${k8s.replace(/^v/, '')}`;
}

/** The tag of an image reference, "v" dropped ("registry.k8s.io/kube-apiserver:v1.35.0" → "1.35.0"). */
export const imageVersion = (image: string) => image.slice(image.lastIndexOf(':') + 1).replace(/^v/, '');

export type AskNode = <T>(node: string, fn: (c: TalosClient) => Promise<T>) => Promise<T>;

/** upgrade-k8s's checks before a roll of `nodes` to `to`; throws the first refusal, naming the node. */
export async function checkK8sUpgrade(ask: AskNode, nodes: { name: string; role: 'controlplane' | 'worker' }[], to: string): Promise<void> {
  for (const n of nodes) {
    const talos = await ask(n.name, async (c) => (await c.version()).version.tag);
    const problem = k8sTalosProblem(talos, to);
    if (problem) throw new Error(`${n.name}: ${problem}`);
    if (n.role !== 'controlplane') continue;
    const config = await ask(n.name, activeMachineConfig);
    const v1 = parseAllDocuments(config).map((d) => d.toJS() as { version?: string; cluster?: { apiServer?: { image?: string } } } | null).find((d) => d?.version === 'v1alpha1');
    // A config that names no image runs Talos's built-in default for its release.
    const image = v1?.cluster?.apiServer?.image;
    const from = image ? imageVersion(image) : defaultKubernetesVersion(talos);
    const path = k8sUpgradePathProblem(from, to);
    if (path) throw new Error(`${n.name}: ${path}`);
  }
}
