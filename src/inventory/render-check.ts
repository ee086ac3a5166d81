// The last check of an inventory: render every node's machine config as
// `serve` would hand it out, so a patch that cannot apply (a JSON Patch to
// /machine/nope/x, a strategic merge of a list into a map) is refused when
// the file is checked or reloaded, not when the node asks for its config.
// Patches never read the secrets' values, so placeholders stand in for
// them: the check needs no `rackboot init` first.
import type { Locate } from '../yaml/validated.js';
import type { RenderInput } from '../talos/config/render.js';
import { renderMachineConfig } from '../talos/config/render.js';
import { PatchError } from '../talos/config/patch.js';
import type { SecretsBundle } from '../talos/secrets.js';
import type { Inventory, InventoryError } from './types.js';

/** What rendering reads from the settings (network, installer image, consoles). */
export type RenderSettings = RenderInput['settings'];

/** Used where no settings are at hand: the patch outcome does not depend on them. */
export const NEUTRAL_RENDER_SETTINGS = {
  dhcp: { dns: [] },
  factory: { url: 'https://factory.talos.dev' },
} as unknown as RenderSettings;

const PLACEHOLDER = 'cGxhY2Vob2xkZXI=';
const PLACEHOLDER_SECRETS: SecretsBundle = {
  cluster: { id: PLACEHOLDER, secret: PLACEHOLDER },
  secrets: { bootstraptoken: 'abcdef.0123456789abcdef', secretboxencryptionsecret: PLACEHOLDER },
  trustdinfo: { token: 'abcdef.0123456789abcdef' },
  certs: {
    etcd: { crt: PLACEHOLDER, key: PLACEHOLDER }, k8s: { crt: PLACEHOLDER, key: PLACEHOLDER },
    k8saggregator: { crt: PLACEHOLDER, key: PLACEHOLDER }, k8sserviceaccount: { key: PLACEHOLDER },
    os: { crt: PLACEHOLDER, key: PLACEHOLDER },
  },
};

/** Where a patch named by render.ts's patchesFor() sits in the file. */
function patchPath(source: string, inv: Inventory): (string | number)[] | undefined {
  const cluster = /^cluster\.patches\.(all|controlplane|worker)\[(\d+)\]$/.exec(source);
  if (cluster) return ['cluster', 'patches', cluster[1]!, Number(cluster[2])];
  const node = /^nodes\[(.+)\]\.patches\[(\d+)\]$/.exec(source);
  if (node) return ['nodes', inv.nodes.findIndex((n) => n.name === node[1]), 'patches', Number(node[2])];
  return undefined;
}

/**
 * Every node rendered; one problem per failing patch. A cluster-wide patch
 * that fails for many nodes is reported once, with how many it breaks.
 */
export function renderProblems(inv: Inventory, file: string, locate: Locate, settings: RenderSettings): InventoryError[] {
  const found = new Map<string, { error: InventoryError; nodes: string[] }>();
  for (const node of inv.nodes) {
    try {
      // A push node's install-disk selector is resolved against its disks at
      // first contact and the config names that path; only a pull node gets
      // the selector itself (upstream diskSelector), which may not express it.
      const chosenInstallDisk = typeof node.installDisk !== 'string' && node.configMode === 'push' ? '/dev/resolved-at-first-contact' : undefined;
      renderMachineConfig({ cluster: inv.cluster, node, secrets: PLACEHOLDER_SECRETS, settings, chosenInstallDisk });
    } catch (err) {
      const message = (err as Error).message;
      const source = err instanceof PatchError ? /^patch (\S+) failed for node /.exec(message)?.[1] : undefined;
      const path = (source ? patchPath(source, inv) : undefined) ?? ['nodes', inv.nodes.indexOf(node)];
      const why = source ? message.replace(/^patch \S+ failed for node \S+: /, '') : message;
      const key = `${source ?? node.name}\n${why}`;
      const seen = found.get(key);
      if (seen) {
        seen.nodes.push(node.name);
        continue;
      }
      found.set(key, {
        error: { file, ...locate(path), message: `node ${node.name}: its config does not render: ${source ? `patch ${source}: ` : ''}${why}` },
        nodes: [node.name],
      });
    }
  }
  return [...found.values()]
    .map(({ error, nodes }) => (nodes.length > 1 ? { ...error, message: `${error.message} (and for ${nodes.length - 1} more node${nodes.length === 2 ? '' : 's'})` } : error))
    .sort((a, b) => a.line - b.line || a.col - b.col);
}
