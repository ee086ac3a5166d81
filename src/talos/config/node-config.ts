// Which config a node should run, said once. First contact's push, the pull
// route, the node page, day 2's desired state and `rackboot config` all ask
// here, so they cannot drift apart on what they hand the renderer: a page
// or a plan that left out the registry mirror or the resolved install disk
// would show a difference that is not there.
import type { ClusterSpec, NodeSpec } from '../../inventory/types.js';
import type { Settings } from '../../settings/settings.js';
import type { Store } from '../../store/store.js';
import { nodeHardware } from '../../store/hardware.js';
import { kernelLogTarget } from '../kernel-args.js';
import type { SecretsBundle } from '../secrets.js';
import { registryMirrorTarget } from './registry-mirrors.js';
import { nodeConfigText } from './render.js';

export interface ConfigSite {
  settings: Settings;
  /** The boot plane's URL as nodes reach it: the daemon's, or the configured one from the CLI. */
  publicUrl: string;
  secrets: SecretsBundle;
  /** The disk first contact resolved a node's install-disk selector to, if any (resolvedInstallDisk). */
  installDiskOf?: (node: string) => string | undefined;
}

/** The node's machine config as text. `chosenInstallDisk` overrides the recorded one (first contact, before it is recorded). */
export function configForNode(cluster: ClusterSpec, node: NodeSpec, site: ConfigSite, chosenInstallDisk?: string): string {
  const { settings, publicUrl } = site;
  return nodeConfigText({
    cluster, node, secrets: site.secrets, settings,
    kernelLogUrl: kernelLogTarget(settings.console, publicUrl),
    registryMirror: registryMirrorTarget(settings.registry, settings.factory.url, publicUrl),
    chosenInstallDisk: chosenInstallDisk ?? site.installDiskOf?.(node.name),
  });
}

/** The install disk the store recorded for a node (store/hardware.ts). */
export function resolvedInstallDisk(store: Store): (node: string) => string | undefined {
  return (node) => nodeHardware(store, node)?.installDisk?.path;
}
