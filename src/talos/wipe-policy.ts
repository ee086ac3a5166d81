// Which data disks a reimage wipes: exactly those the inventory lists under
// `wipe.userDisks`, each selector resolved to one disk the node reports now.
// Nothing listed, nothing wiped but the system disk. A selector that matches
// no disk or several, or that lands on the install disk, stops the reset: a
// wipe is never guessed.
import type { NodeSpec } from '../inventory/types.js';
import type { TalosClient } from './client.js';
import { describeSelector, refusalText, selectDisk } from './disk-selector.js';
import { HARDWARE_RESOURCES, hardwareFacts } from './hardware.js';

export type UserDiskPlan = { ok: true; paths: string[] } | { ok: false; why: string };

/** `installDisk`: the node's system disk as known (its path, or the disk its selector last resolved to). */
export async function userDisksToWipe(spec: Pick<NodeSpec, 'wipe'>, client: TalosClient, installDisk: string | undefined): Promise<UserDiskPlan> {
  const selectors = spec.wipe?.userDisks ?? [];
  if (selectors.length === 0) return { ok: true, paths: [] };
  const { namespace, type } = HARDWARE_RESOURCES.disks;
  const disks = hardwareFacts({ disks: await client.listResources(namespace, type), system: [], processors: [], memory: [], pci: [], links: [] }).disks;
  const paths: string[] = [];
  for (const s of selectors) {
    const m = selectDisk(s, disks);
    if (m.kind !== 'one') return { ok: false, why: refusalText(s, m, 'wipe.userDisks selector') };
    const path = m.disk.devPath;
    if (path === installDisk) return { ok: false, why: `wipe.userDisks: ${describeSelector(s)} is ${path}, the install disk` };
    if (!paths.includes(path)) paths.push(path);
  }
  return { ok: true, paths };
}
