// A small file system whose disk flushes a test can hold and release, to
// show what a process does while an fsync waits on the disk.
//
// Two loop-mounted file systems, one inside the other: the inner (ext2, no
// journal) holds the files, and its loop device writes into an image file
// on the outer (ext4). Freezing the outer (fsfreeze) stalls the inner loop
// device's writes, so an fsync on the inner waits until the thaw, while
// writes into the inner's page cache (a SQLite commit with
// synchronous=NORMAL) still return at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveCommand, sh } from './netns.js';
import { processAlive } from '../../src/process-alive.js';

const TOOLS = ['/usr/sbin/losetup', '/usr/sbin/mkfs.ext4', '/usr/sbin/mkfs.ext2', '/usr/sbin/fsfreeze', '/usr/bin/mount'];

/** Why a held disk cannot be made here, or undefined when it can. */
export function heldDiskMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (loop devices, mount, fsfreeze)';
  const missing = TOOLS.filter((t) => !haveCommand(t));
  if (missing.length) return `missing ${missing.join(', ')}`;
  try {
    sh('losetup', ['--find']);
  } catch {
    return 'no free loop device';
  }
  return undefined;
}

export class HeldDisk {
  /** Mount point and loop device of each file system, outer first. */
  private mounted: Array<{ at: string; dev: string }> = [];
  private held = false;
  private constructor(private readonly root: string, readonly dir: string) {}

  /** Mounts the pair; `dir` is the inner file system, where a test puts its files. Clears what killed runs left first (clearLeftovers; the test run's global setup does too). */
  static create(): HeldDisk {
    clearLeftovers();
    const root = mkdtempSync(join(tmpdir(), ROOT_PREFIX));
    writeFileSync(join(root, OWNER), String(process.pid));
    const disk = new HeldDisk(root, join(root, 'inner'));
    try {
      const outer = join(root, 'outer');
      sh('truncate', ['-s', '64M', join(root, 'outer.img')]);
      sh('mkfs.ext4', ['-q', '-F', join(root, 'outer.img')]);
      disk.mount(join(root, 'outer.img'), outer);
      sh('truncate', ['-s', '48M', join(outer, 'inner.img')]);
      sh('mkfs.ext2', ['-q', '-F', join(outer, 'inner.img')]);
      disk.mount(join(outer, 'inner.img'), disk.dir);
    } catch (err) {
      disk.destroy();
      throw err;
    }
    return disk;
  }

  private mount(image: string, at: string): void {
    sh('mkdir', ['-p', at]);
    const dev = sh('losetup', ['--find', '--show', image]).trim();
    try {
      sh('mount', [dev, at]);
    } catch (err) {
      sh('losetup', ['-d', dev]);
      throw err;
    }
    this.mounted.push({ at, dev });
  }

  /** From now on, flushes to `dir` wait (page-cache writes do not). */
  hold(): void {
    sh('fsfreeze', ['--freeze', join(this.root, 'outer')]);
    this.held = true;
  }

  release(): void {
    if (!this.held) return;
    // releaseLater's process may have thawed it already.
    try { sh('fsfreeze', ['--unfreeze', join(this.root, 'outer')]); } catch { /* thawed */ }
    this.held = false;
  }

  /**
   * Releases from another process after `seconds`: for a test whose own
   * thread may be the one waiting on the disk (code that flushes on the event
   * loop), which could then never call release(). `releasing()` says
   * whether it has begun to. Kill it when done.
   */
  releaseLater(seconds: number): ChildProcess & { releasing: () => boolean } {
    // The marker is made just before the thaw: code that waited on the disk can only go on after it exists.
    const marker = join(this.root, 'releasing');
    const child = spawn('sh', ['-c', `sleep ${seconds}; touch ${marker}; fsfreeze --unfreeze ${join(this.root, 'outer')}`], { stdio: 'ignore' });
    return Object.assign(child, { releasing: () => existsSync(marker) });
  }

  /** Releases, unmounts and detaches inner then outer, removes the files. */
  destroy(): void {
    try { this.release(); } catch { /* already thawed */ }
    takeDown(this.root, this.mounted.reverse());
    this.mounted = [];
  }
}

const ROOT_PREFIX = 'rbd-held-';
/** In each disk's root: the pid of the process that made it. */
const OWNER = 'owner';

/** Inner first, each loop device detached before the file system holding its image can go; then the files. */
function takeDown(root: string, innerFirst: Array<{ at: string; dev: string }>): void {
  for (const { at, dev } of innerFirst) {
    unmount(at);
    try { sh('losetup', ['-d', dev]); } catch { /* autocleared */ }
  }
  rmSync(root, { recursive: true, force: true });
}

/**
 * A test process killed while it held a disk (vitest timed out, ^C, kill -9)
 * leaves its mounts, loop devices and a frozen outer file system behind.
 * Takes down every held disk whose owner process is gone: thawed first, so
 * the inner's unmount can flush. Disks of live processes (another test file
 * running now) and roots without an owner record are left alone.
 */
export function clearLeftovers(): string[] {
  const cleared: string[] = [];
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f.length > 1);
  const mounted = new Set(mounts.map((f) => f[0]));
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(ROOT_PREFIX))) {
    const root = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(root, OWNER), 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || owner <= 0 || processAlive(owner)) continue; // its owner runs
    try { sh('fsfreeze', ['--unfreeze', join(root, 'outer')]); } catch { /* not frozen, or not mounted */ }
    // Killed between losetup and mount: a loop device holds an image under the root with nothing mounted from it.
    for (const dev of loopDevicesUnder(root)) {
      if (!mounted.has(dev)) try { sh('losetup', ['-d', dev]); } catch { /* gone meanwhile */ }
    }
    const mountOf = (at: string) => mounts.filter((f) => f[1] === at).map((f) => ({ at, dev: f[0]! }));
    takeDown(root, [...mountOf(join(root, 'inner')), ...mountOf(join(root, 'outer'))]);
    cleared.push(root);
  }
  return cleared;
}

/** Loop devices whose backing file is under `root` (`losetup -a`: "/dev/loopN: []: (/path/to/image)"). */
export function loopDevicesUnder(root: string): string[] {
  return sh('losetup', ['-a']).split('\n').filter((l) => l.includes(`(${root}/`)).map((l) => l.slice(0, l.indexOf(':')));
}

/** The inner loop device lets go of the outer asynchronously: retry, then detach lazily. */
function unmount(at: string): void {
  for (let i = 0; i < 20; i++) {
    try {
      sh('umount', [at]);
      return;
    } catch {
      sh('sleep', ['0.25']);
    }
  }
  try { sh('umount', ['-l', at]); } catch { /* not mounted */ }
}
