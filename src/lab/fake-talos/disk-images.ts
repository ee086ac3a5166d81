// Disk image files behind the fake node's disks (branch commission): when a
// test gives them, a Reset the node takes really wipes the image files of
// the disks upstream would wipe, with qemu-io, so the test reads back what
// survived instead of trusting the request. Which disks, as upstream decides
// (internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go Reset,
// v1.12.0; the same at v1.11.0 and v1.13.0): the system disk unless the mode
// is USER_DISKS (a fake disk has no partitions, so its head stands for
// STATE and EPHEMERAL), and exactly the devices in user_disks_to_wipe.
import { execFileSync } from 'node:child_process';

/** Upstream ResetRequest.WipeMode names (ALL is the zero value). */
export function resetWipeTargets(req: { mode?: string; user_disks_to_wipe?: string[] }, systemDisk: string | undefined): string[] {
  const targets: string[] = [];
  if ((req.mode ?? 'ALL') !== 'USER_DISKS' && systemDisk) targets.push(systemDisk);
  for (const dev of req.user_disks_to_wipe ?? []) if (!targets.includes(dev)) targets.push(dev);
  return targets;
}

/** Bytes zeroed at the start of a wiped image: enough to cover any marker a test writes there. */
export const WIPE_BYTES = 1 << 20;

/** Zeroes the head of each target's image; `images` maps /dev paths to raw image files. */
export function wipeDiskImages(images: Record<string, string>, targets: string[]): string[] {
  const wiped: string[] = [];
  for (const dev of targets) {
    const file = images[dev];
    if (!file) continue;
    execFileSync('qemu-io', ['-f', 'raw', '-c', `write -z 0 ${WIPE_BYTES}`, file], { stdio: 'ignore', timeout: 30_000 });
    wiped.push(dev);
  }
  return wiped;
}
