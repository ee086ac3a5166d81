import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ImageStore } from '../../src/registry/image-store.js';
import { exportArchive, importArchive, ImportError } from '../../src/registry/oci-archive.js';
import { buildImage, tarLayout, writeLayout, type BuiltImage } from '../helpers/oci-image.js';

let dir: string;
let img: BuiltImage;
let dockerImg: BuiltImage;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-oci-'));
  img = await buildImage('ghcr.io/rackboot-test/tool:v1', 'tool');
  dockerImg = await buildImage('docker.io/library/busybox:1.36', 'busybox', { docker: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function archive(images: BuiltImage[], mutate?: (layout: string) => void): string {
  const layout = join(dir, `layout-${Math.random().toString(36).slice(2)}`);
  writeLayout(layout, images);
  mutate?.(layout);
  const file = `${layout}.tar`;
  tarLayout(layout, file);
  return file;
}

const blobFiles = (store: ImageStore) => (existsSync(store.blobsDir) ? readdirSync(store.blobsDir) : []);
const leftovers = (store: ImageStore) => (existsSync(store.root) ? readdirSync(store.root).filter((f) => f.startsWith('staging-')) : []);

describe('importArchive', () => {
  it('imports OCI and Docker images from a GNU tar of a layout, every blob once, tags and media types recorded', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const progress: number[] = [];
    const file = archive([img, dockerImg]);
    const images = await importArchive(store, file, (done) => progress.push(done));
    expect(images.map((i) => `${i.name}:${i.tag}`)).toEqual(['ghcr.io/rackboot-test/tool:v1', 'docker.io/library/busybox:1.36']);
    expect(store.manifest('ghcr.io/rackboot-test/tool', 'v1')).toEqual({ digest: img.digest, mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(store.manifest('docker.io/library/busybox', '1.36')?.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(store.manifest('docker.io/library/busybox', dockerImg.platforms[1]!.manifest)?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(blobFiles(store).sort()).toEqual([...new Set([...img.blobs.keys(), ...dockerImg.blobs.keys()])].map((d) => d.slice(7)).sort());
    for (const [d, b] of img.blobs) expect(readFileSync(store.blobPath(d)).equals(b)).toBe(true);
    // A blob of one image is not served under the other's name.
    expect(store.servable('docker.io/library/busybox', img.platforms[0]!.layers[0]!)).toBe(false);
    expect(store.servable('ghcr.io/rackboot-test/tool', img.platforms[0]!.layers[0]!)).toBe(true);
    // Progress counts the archive's bytes, so it ends at the file's size.
    expect(progress.at(-1)).toBe(statSync(file).size);
    expect(leftovers(store)).toEqual([]);
  });

  it('refuses a corrupted blob and adds nothing', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const layer = img.platforms[0]!.layers[1]!;
    const file = archive([img], (layout) => {
      const p = join(layout, 'blobs', 'sha256', layer.slice(7));
      const b = readFileSync(p);
      b[1000] = b[1000]! ^ 0xff;
      writeFileSync(p, b);
    });
    await expect(importArchive(store, file)).rejects.toThrow(new RegExp(`blob ${layer} is corrupted.*nothing was imported`));
    expect(blobFiles(store)).toEqual([]);
    expect(store.images()).toEqual([]);
    expect(leftovers(store)).toEqual([]);
  });

  it('leaves nothing half-imported from a truncated archive, at any cut', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const file = archive([img]);
    const size = statSync(file).size;
    // GNU tar pads to 10 KiB records; every cut here is inside the data, before that padding.
    for (const cut of [100, 3000, Math.floor(size / 4), Math.floor(size / 2), Math.floor(size * 0.9)]) {
      const copy = join(dir, `cut-${cut}.tar`);
      writeFileSync(copy, readFileSync(file));
      truncateSync(copy, cut);
      await expect(importArchive(store, copy)).rejects.toThrow(ImportError);
      expect(blobFiles(store)).toEqual([]);
      expect(store.images()).toEqual([]);
      expect(leftovers(store)).toEqual([]);
    }
  });

  it('refuses an image whose index points at a blob the archive lacks', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const missing = img.platforms[1]!.layers[2]!;
    const file = archive([img], (layout) => rmSync(join(layout, 'blobs', 'sha256', missing.slice(7))));
    await expect(importArchive(store, file)).rejects.toThrow(`needs blob ${missing}`);
    expect(blobFiles(store)).toEqual([]);
  });

  it('refuses an entry without a full image name', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const file = archive([{ ...img, ref: 'v1' }]);
    await expect(importArchive(store, file)).rejects.toThrow('needs a full image name');
  });

  it('refuses a file that is not a tar archive', async () => {
    const store = new ImageStore(join(dir, 'data'));
    const file = join(dir, 'junk.tar');
    writeFileSync(file, Buffer.alloc(4096, 'x'));
    await expect(importArchive(store, file)).rejects.toThrow(/checksum.*tar header|tar header.*checksum/);
  });
});

describe('exportArchive', () => {
  it('round-trips: export from one data dir, import into a second, the same digests and bytes', async () => {
    const first = new ImageStore(join(dir, 'one'));
    await importArchive(first, archive([img, dockerImg]));
    const out = join(dir, 'export.tar');
    const progress: number[] = [];
    const result = await exportArchive(first, out, [], (d) => progress.push(d));
    expect(result.images).toBe(2);
    expect(progress.at(-1)).toBe(result.bytes);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);

    const second = new ImageStore(join(dir, 'two'));
    const imported = await importArchive(second, out);
    expect(imported.map((i) => [i.name, i.tag, i.digest]).sort()).toEqual(first.images().map((i) => [i.name, i.tag, i.digest]).sort());
    for (const d of first.blobDigests()) {
      const hash = `sha256:${createHash('sha256').update(readFileSync(second.blobPath(d))).digest('hex')}`;
      expect(hash).toBe(d);
    }
    expect(second.blobDigests().sort()).toEqual(first.blobDigests().sort());
  });

  it('exports only the images asked for, and refuses one it does not hold', async () => {
    const store = new ImageStore(join(dir, 'one'));
    await importArchive(store, archive([img, dockerImg]));
    const out = join(dir, 'one-image.tar');
    await exportArchive(store, out, [{ name: 'ghcr.io/rackboot-test/tool', tag: 'v1' }]);
    const other = new ImageStore(join(dir, 'two'));
    await importArchive(other, out);
    expect(other.images().map((i) => i.name)).toEqual(['ghcr.io/rackboot-test/tool']);
    expect(other.blobDigests().sort()).toEqual([...img.blobs.keys()].sort());
    await expect(exportArchive(store, join(dir, 'x.tar'), [{ name: 'ghcr.io/nope/nope', tag: 'v1' }])).rejects.toThrow('not in the image cache');
    expect(existsSync(join(dir, 'x.tar'))).toBe(false);
  });
});
