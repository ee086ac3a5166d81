// `rackboot config NODE`: the node's complete machine config. The base
// document for its role, its own hostname/address/install disk, what keeps
// its console and kernel log after the install, then the inventory's
// patches in order (cluster-wide, role, node), merged as talosctl merges them.
import { stringify } from 'yaml';
import type { ClusterSpec, NodeSpec } from '../../inventory/types.js';
import type { Settings } from '../../settings/settings.js';
import { installerImage, schematicId } from '../../factory/schematic.js';
import type { SecretsBundle } from '../secrets.js';
import { baseConfig } from './base.js';
import { legacyNodeNetwork, nodeNetworkDocuments } from './network.js';
import { applyPatches, type Json, type NamedPatch } from './patch.js';
import { consoleArgs } from '../kernel-args.js';
import { contractFor, defaultKubernetesVersion } from './versions.js';
import { upstreamDiskSelector } from '../disk-selector.js';
import { legacyRegistries, registryMirrorDocuments, type RegistryMirror } from './registry-mirrors.js';

export interface RenderInput {
  cluster: ClusterSpec;
  node: Pick<NodeSpec, 'name' | 'mac' | 'role' | 'ip' | 'installDisk' | 'patches' | 'secureBoot'>;
  secrets: SecretsBundle;
  settings: Pick<Settings, 'dhcp' | 'factory'> & { talos?: Settings['talos'] };
  /**
   * The appliance's talos.logging.kernel target (udp://host:port/), when the
   * console receiver is on: a KmsgLogConfig document keeps the installed
   * node sending its kernel log there (the PXE command line does not survive the install).
   */
  kernelLogUrl?: string;
  /** The disk rackboot resolved the node's install-disk selector to (first contact); the config then names it by path. */
  chosenInstallDisk?: string;
  /** The appliance's registry mirror (registryMirrorTarget), when registry.mirror is on. */
  registryMirror?: RegistryMirror;
}

/** A KmsgLogConfig document (runtime/kmsg_log.go, present in every supported release; url tcp:// or udp://, host:port). */
export const KMSG_LOG_NAME = 'rackboot-console';

/**
 * The consoles an installed node should keep, for releases whose GRUB builds
 * the command line on the host from machine.install.extraKernelArgs
 * (cmd/installer/pkg/install/install.go: extra args replace the defaults'
 * consoles). Nothing when they are just the default tty0. Render does not
 * know the node's arch: amd64's consoles are assumed.
 */
function installConsoles(input: RenderInput): string[] {
  const consoles = consoleArgs({
    talosVersion: input.cluster.talosVersion, arch: 'amd64', consoles: input.settings.talos?.consoles ?? [],
    schematicArgs: input.cluster.schematic.extraKernelArgs, settingsArgs: input.settings.talos?.extraKernelArgs ?? [],
  });
  return consoles.join(' ') === 'console=tty0' ? [] : consoles;
}

export function patchesFor(cluster: ClusterSpec, node: RenderInput['node']): NamedPatch[] {
  return [
    ...cluster.patches.all.map((patch, i) => ({ source: `cluster.patches.all[${i}]`, patch })),
    ...cluster.patches[node.role].map((patch, i) => ({ source: `cluster.patches.${node.role}[${i}]`, patch })),
    ...node.patches.map((patch, i) => ({ source: `nodes[${node.name}].patches[${i}]`, patch })),
  ];
}

/**
 * The node's config documents: the v1alpha1 document first, for Talos ≥ 1.12
 * its network documents, the KmsgLogConfig when there is a console receiver,
 * then the inventory's patches over all of them, as `talosctl gen config
 * --config-patch` applies patches to the documents it generated.
 */
export function renderMachineConfig(input: RenderInput): Record<string, unknown>[] {
  const { cluster, node, secrets, settings } = input;
  const contract = contractFor(cluster.talosVersion);
  const doc = baseConfig({
    role: node.role,
    clusterName: cluster.name,
    controlPlaneEndpoint: cluster.controlPlaneEndpoint,
    kubernetesVersion: cluster.kubernetesVersion ?? defaultKubernetesVersion(cluster.talosVersion),
    installDisk: typeof node.installDisk === 'string' ? node.installDisk
      : input.chosenInstallDisk ? input.chosenInstallDisk : { diskSelector: upstreamDiskSelector(node.installDisk) },
    installImage: installerImage(settings.factory.url, schematicId(cluster.schematic), cluster.talosVersion, node.secureBoot === true),
    cni: cluster.cni,
    secrets,
    contract,
    // A Secure Boot install boots a signed UKI through systemd-boot, whose
    // command line is inside the UKI: Talos ignores install.extraKernelArgs
    // there (bootloader docs, v1.11), so consoles come from the schematic.
    installExtraKernelArgs: node.secureBoot ? [] : installConsoles(input),
  });
  const machine = doc.machine as Record<string, Json>;
  if (contract.multidoc) delete machine.network;
  else machine.network = legacyNodeNetwork(node, settings);
  const docs: Record<string, Json>[] = [doc, ...(contract.multidoc ? nodeNetworkDocuments(node, settings) : [])];
  if (input.kernelLogUrl) docs.push({ apiVersion: 'v1alpha1', kind: 'KmsgLogConfig', name: KMSG_LOG_NAME, url: input.kernelLogUrl });
  if (input.registryMirror) {
    if (contract.multidoc) docs.push(...registryMirrorDocuments(input.registryMirror));
    else machine.registries = legacyRegistries(input.registryMirror);
  }
  return applyPatches(docs, patchesFor(cluster, node), node.name);
}

/** YAML as talosctl writes it (Go yaml, 4-space indent, documents separated by ---), without its doc comments. */
export function machineConfigYaml(docs: Record<string, unknown>[]): string {
  return docs.map((d) => stringify(d, { indent: 4, indentSeq: true, lineWidth: 0 })).join('---\n');
}

/** The text a node receives, by push or pull, or that `rackboot config` prints. */
export function nodeConfigText(input: RenderInput): string {
  return machineConfigYaml(renderMachineConfig(input));
}
