// The day-2 ports over the real world: the node's Talos API over mTLS with
// the admin identity, and the desired state rendered from the inventory
// exactly as first contact renders it (talos/config/render.ts).
import { schematicId } from '../factory/schematic.js';
import type { Inventory } from '../inventory/types.js';
import type { Settings } from '../settings/settings.js';
import type { TalosClient } from '../talos/client.js';
import { configForNode } from '../talos/config/node-config.js';
import { defaultKubernetesVersion } from '../talos/config/versions.js';
import { withTalosClient, type ConnectTalos, type EndpointOf } from '../talos/endpoints.js';
import type { NodeRecord } from '../store/store.js';
import type { SecretsBundle } from '../talos/secrets.js';
import type { ConfigPort, DesiredState } from './ports.js';

export function talosConfigPort(connect: ConnectTalos, endpointOf: EndpointOf): ConfigPort {
  const withClient = <T>(node: NodeRecord, fn: (c: TalosClient) => Promise<T>): Promise<T> =>
    withTalosClient(connect, endpointOf(node), `${node.name} has no address`, fn);
  return {
    apply: (node, config, mode, opts) => withClient(node, (c) => c.applyConfiguration(config, mode, { dryRun: opts.dryRun })),
    version: (node) => withClient(node, async (c) => (await c.version()).version.tag),
  };
}

export interface DesiredInputs {
  inventory: () => Inventory | undefined;
  secrets: () => SecretsBundle;
  settings: () => Settings;
  /** The boot plane's URL the node's config names (kernel log, registry mirror). */
  publicUrl: () => string;
  /** The disk first contact resolved the node's install-disk selector to, so the desired config names the same path. */
  installDiskOf?: (node: string) => string | undefined;
}

/** The node's config, Talos version, schematic and Kubernetes version from the live inventory. */
export function inventoryDesiredState(input: DesiredInputs): DesiredState {
  return async (node) => {
    const inv = input.inventory();
    const spec = inv?.nodes.find((n) => n.name === node.name);
    if (!inv || !spec) throw new Error(`node ${node.name} is not in the live inventory`);
    const { cluster } = inv;
    const text = configForNode(cluster, spec, { settings: input.settings(), publicUrl: input.publicUrl(), secrets: input.secrets(), installDiskOf: input.installDiskOf });
    return {
      config: Buffer.from(text),
      talosVersion: cluster.talosVersion,
      schematic: schematicId(cluster.schematic),
      kubernetesVersion: cluster.kubernetesVersion ?? defaultKubernetesVersion(cluster.talosVersion),
    };
  };
}
