// `rackboot config NODE`: the node's complete machine config. The base
// document for its role, its own hostname/address/install disk, then the
// inventory's patches in order: cluster-wide, role, node.
import { stringify } from 'yaml';
import type { ClusterSpec, NodeSpec } from '../../inventory/types.js';
import type { Settings } from '../../settings/settings.js';
import { installerImage, schematicId } from '../../factory/schematic.js';
import type { SecretsBundle } from '../secrets.js';
import { baseConfig } from './base.js';
import { legacyNodeNetwork, nodeNetworkDocuments } from './network.js';
import { applyPatches, type Json, type NamedPatch } from './patch.js';
import { contractFor, defaultKubernetesVersion } from './versions.js';

export interface RenderInput {
  cluster: ClusterSpec;
  node: Pick<NodeSpec, 'name' | 'mac' | 'role' | 'ip' | 'installDisk' | 'patches'>;
  secrets: SecretsBundle;
  settings: Pick<Settings, 'dhcp' | 'factory'>;
}

export function patchesFor(cluster: ClusterSpec, node: RenderInput['node']): NamedPatch[] {
  return [
    ...cluster.patches.all.map((patch, i) => ({ source: `cluster.patches.all[${i}]`, patch })),
    ...cluster.patches[node.role].map((patch, i) => ({ source: `cluster.patches.${node.role}[${i}]`, patch })),
    ...node.patches.map((patch, i) => ({ source: `nodes[${node.name}].patches[${i}]`, patch })),
  ];
}

/**
 * The node's config documents: the v1alpha1 document first (patched), then
 * for Talos ≥ 1.12 its network documents. Patches apply to the v1alpha1
 * document, as `talosctl gen config --config-patch` does for plain patches.
 */
export function renderMachineConfig(input: RenderInput): Record<string, unknown>[] {
  const { cluster, node, secrets, settings } = input;
  const contract = contractFor(cluster.talosVersion);
  const doc = baseConfig({
    role: node.role,
    clusterName: cluster.name,
    controlPlaneEndpoint: cluster.controlPlaneEndpoint,
    kubernetesVersion: cluster.kubernetesVersion ?? defaultKubernetesVersion(cluster.talosVersion),
    installDisk: node.installDisk,
    installImage: installerImage(settings.factory.url, schematicId(cluster.schematic), cluster.talosVersion),
    cni: cluster.cni,
    secrets,
    contract,
  });
  const machine = doc.machine as Record<string, Json>;
  if (contract.multidoc) delete machine.network;
  else machine.network = legacyNodeNetwork(node, settings);
  const patched = applyPatches(doc, patchesFor(cluster, node), node.name) as Record<string, unknown>;
  return contract.multidoc ? [patched, ...nodeNetworkDocuments(node, settings)] : [patched];
}

/** YAML as talosctl writes it (Go yaml, 4-space indent, documents separated by ---), without its doc comments. */
export function machineConfigYaml(docs: Record<string, unknown>[]): string {
  return docs.map((d) => stringify(d, { indent: 4, indentSeq: true, lineWidth: 0 })).join('---\n');
}

/** The text a node receives, by push or pull, or that `rackboot config` prints. */
export function nodeConfigText(input: RenderInput): string {
  return machineConfigYaml(renderMachineConfig(input));
}
