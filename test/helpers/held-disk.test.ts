// A test process killed while it held a disk leaves a frozen outer file
// system, two mounts and two loop devices behind; the next HeldDisk.create()
// clears them, and leaves alone a disk whose owner process still runs.
// The killed run is simulated: a disk made and held here, never destroyed,
// its owner record rewritten to the pid of a process that has exited.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearLeftovers, HeldDisk, heldDiskMissing, loopDevicesUnder } from './held-disk.js';
import { sh } from './netns.js';

const why = heldDiskMissing();
const made: HeldDisk[] = [];
afterEach(() => {
  for (const d of made.splice(0)) d.destroy();
});

/** Mount point -> device, for mounts under `root`. */
function mountsUnder(root: string): Map<string, string> {
  const lines = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  return new Map(lines.filter((f) => f[1]?.startsWith(`${root}/`)).map((f) => [f[1]!, f[0]!]));
}

describe.skipIf(why)('HeldDisk', () => {
  it('clears what a killed run left (thawed, unmounted, loop devices detached) and keeps a live process\'s disk', () => {
    const live = HeldDisk.create();
    made.push(live);
    const left = HeldDisk.create();
    const leftRoot = dirname(left.dir);
    writeFileSync(join(left.dir, 'data'), 'written before the kill');
    left.hold();
    const devices = [...mountsUnder(leftRoot).values()];
    expect(devices).toHaveLength(2);
    const gone = spawnSync('true').pid!;
    writeFileSync(join(leftRoot, 'owner'), String(gone));

    let next: HeldDisk | undefined;
    try {
      next = HeldDisk.create();
      made.push(next);
      expect([...mountsUnder(leftRoot).keys()]).toEqual([]);
      expect(existsSync(leftRoot)).toBe(false);
      // Detached: no loop device is backed by its images any more (the new disk may have reused the device numbers).
      expect(sh('losetup', ['-a']).split('\n').filter((l) => l.includes(leftRoot))).toEqual([]);
      // The live disk is untouched, and so is the new one.
      expect(mountsUnder(dirname(live.dir)).size).toBe(2);
      writeFileSync(join(live.dir, 'still'), 'here');
      writeFileSync(join(next.dir, 'new'), 'here');
    } finally {
      if (mountsUnder(leftRoot).size > 0) left.destroy();
    }
  }, 60_000);

  it('detaches a loop device a run killed between losetup and mount left holding an image', () => {
    const root = mkdtempSync(join(tmpdir(), 'rbd-held-'));
    writeFileSync(join(root, 'owner'), String(spawnSync('true').pid!));
    sh('truncate', ['-s', '8M', join(root, 'outer.img')]);
    sh('losetup', ['--find', '--show', join(root, 'outer.img')]);
    try {
      expect(clearLeftovers()).toContain(root);
      expect(sh('losetup', ['-a']).split('\n').filter((l) => l.includes(root))).toEqual([]);
      expect(existsSync(root)).toBe(false);
    } finally {
      // Only a device still backed by this image: a detached number may already be another test's.
      for (const dev of loopDevicesUnder(root)) sh('losetup', ['-d', dev]);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
