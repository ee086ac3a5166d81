// The one place that decides what a machine gets when it network-boots.
// DHCP, the iPXE script endpoint and the config endpoint all ask here, so
// there is exactly one rule for "does this node install": the store must
// say the node is marked for install. Anything else boots from its disk.
import type { NodeRecord } from '../store/store.js';

export type BootAction =
  | { kind: 'install'; node: NodeRecord }
  | { kind: 'local-disk'; node: NodeRecord; reason: string }
  | { kind: 'unknown' };

export function bootActionFor(node: NodeRecord | undefined): BootAction {
  if (!node || !node.inInventory) return { kind: 'unknown' };
  if (node.markedForInstall) return { kind: 'install', node };
  return { kind: 'local-disk', node, reason: `state ${node.state}, not marked for install` };
}
