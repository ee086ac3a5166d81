// What `rackboot doctor` says about the image cache: its size and the free
// space under it, and, when configs name the appliance as registry mirror,
// which of the cluster's images it would fail to serve.
import { existsSync, statfsSync } from 'node:fs';
import { ImageStore } from './image-store.js';
import { parseImageRef } from './reference.js';

export interface CacheFinding { level: 'ok' | 'warn' | 'fail'; check: string; detail: string; fix?: string }

const GiB = 1024 ** 3;
const gib = (n: number) => `${(n / GiB).toFixed(2)} GiB`;
/** A Talos install plus a cluster's images is a few GiB; less free than this will not hold the next release. */
export const LOW_SPACE = 2 * GiB;

export function imageCacheFindings(dataDir: string, mirror: boolean, needed: string[]): CacheFinding[] {
  const store = new ImageStore(dataDir);
  const where = existsSync(store.root) ? store.root : dataDir;
  const fs = existsSync(where) ? statfsSync(where) : undefined;
  const free = fs ? fs.bavail * fs.bsize : undefined;
  const size = store.size();
  const held = store.images();
  const out: CacheFinding[] = [];
  const detail = `${held.length} images, ${gib(size)} in ${store.root}; ${free === undefined ? 'free space unknown' : `${gib(free)} free`}`;
  out.push(free !== undefined && free < LOW_SPACE
    ? { level: 'warn', check: 'image cache', detail, fix: 'free space on the data directory\'s file system, or run rackboot images prune' }
    : { level: 'ok', check: 'image cache', detail });
  if (mirror) {
    const have = new Set(held.map((i) => `${i.name}:${i.tag}`));
    const missing = needed.filter((r) => {
      const p = parseImageRef(r);
      return !p || !have.has(`${p.name}:${p.tag}`);
    });
    out.push(missing.length === 0
      ? { level: 'ok', check: 'mirrored images', detail: `all ${needed.length} images the cluster needs are cached` }
      : { level: 'fail', check: 'mirrored images', detail: `registry.mirror is on but ${missing.length} needed images are not cached: ${missing.join(', ')}`, fix: 'rackboot images fetch on a connected machine, then images export FILE and images import FILE here' });
  }
  return out;
}
