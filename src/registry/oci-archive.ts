// Moving images in and out of the cache as one OCI image layout archive
// (a tar of oci-layout, index.json and blobs/sha256/*), the format skopeo
// writes with `oci-archive:` and the OCI image-layout spec defines.
//
// Import stages every blob in a directory next to the cache, hashing it on
// the way; a blob whose bytes do not hash to its name, a truncated archive,
// or an image whose manifests point at missing blobs fails the import before
// anything is renamed into the cache, and the staging directory is removed.
// Only then are blobs renamed in (each rename is atomic) and the catalogue
// replaced (also a rename): a crash in between leaves unreferenced blobs,
// never a tag that points at something incomplete.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { ImageStore, type Catalogue } from './image-store.js';
import { ALL_MANIFEST_TYPES, INDEX_TYPES, digestHex, formatImageRef, isDigest, parseImageRef, type ImageRef } from './reference.js';
import { readTar, TarError, TarWriter } from './tar.js';

/** Bytes done out of total (total undefined while unknown). */
export type Progress = (done: number, total: number | undefined) => void;

export interface ImportedImage extends ImageRef {
  digest: string;
  /** Every digest the image needs (manifests, configs, layers). */
  digests: string[];
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
/** index.json and manifests are small; a huge one is not an image layout. */
const MAX_JSON = 4 << 20;

export class ImportError extends Error {}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ImportError(`${what} is not a JSON object`);
}

function descriptors(v: unknown, what: string): Descriptor[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ImportError(`${what} is not a list of descriptors`);
  return v.map((d: unknown) => {
    const desc = d as Descriptor;
    if (typeof desc?.digest !== 'string' || !isDigest(desc.digest) || !Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new ImportError(`${what} holds a descriptor without a sha256 digest and size`);
    }
    return desc;
  });
}

/** Follows an index or manifest down to its layers; returns every digest reached and the manifests' media types. */
export function walk(top: Descriptor, blob: (digest: string) => string | undefined, manifests: Record<string, string>): Set<string> {
  const seen = new Set<string>();
  const visit = (d: Descriptor, where: string) => {
    const file = blob(d.digest);
    if (!file) throw new ImportError(`${where} needs blob ${d.digest}, which the archive does not hold`);
    if (statSync(file).size !== d.size) throw new ImportError(`${where}: blob ${d.digest} is ${statSync(file).size} bytes, its descriptor says ${d.size}`);
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const isManifest = d.mediaType === undefined || ALL_MANIFEST_TYPES.includes(d.mediaType);
    if (!isManifest) return;
    if (d.size > MAX_JSON) throw new ImportError(`${where}: manifest ${d.digest} is too large`);
    const m = parseJson(readFileSync(file), `manifest ${d.digest}`);
    // Image spec: the manifest's own mediaType, when present, is what the registry serves it as.
    const mediaType = typeof m.mediaType === 'string' ? m.mediaType : d.mediaType;
    if (!mediaType || !ALL_MANIFEST_TYPES.includes(mediaType)) throw new ImportError(`${where}: ${d.digest} has no manifest media type we serve (${mediaType ?? 'none'})`);
    manifests[d.digest] = mediaType;
    if (INDEX_TYPES.includes(mediaType)) {
      for (const child of descriptors(m.manifests, `index ${d.digest}`)) visit(child, `index ${d.digest}`);
    } else {
      const config = descriptors(m.config === undefined ? undefined : [m.config], `manifest ${d.digest} config`);
      for (const child of [...config, ...descriptors(m.layers, `manifest ${d.digest} layers`)]) visit({ ...child, mediaType: child.mediaType ?? 'blob' }, `manifest ${d.digest}`);
    }
  };
  visit(top, 'index.json');
  return seen;
}

async function stageBlob(body: AsyncIterable<Buffer>, file: string): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    for await (const piece of body) {
      hash.update(piece);
      if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  } finally {
    out.end();
    await finished(out);
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Moves verified blobs from `staging` into the cache (each rename atomic),
 * then records the images in one catalogue replacement. Call only once
 * every image has been walked against the staged blobs.
 */
export function commitStaged(store: ImageStore, staging: string, staged: Iterable<string>, images: ImportedImage[], manifests: Record<string, string>): void {
  for (const d of staged) if (!store.hasBlob(d)) renameSync(join(staging, digestHex(d)), store.blobPath(d));
  const cat: Catalogue = structuredClone(store.catalogue());
  Object.assign(cat.manifests, manifests);
  for (const img of images) {
    const repo = (cat.repositories[img.name] ??= { tags: {}, digests: [] });
    repo.tags[img.tag] = img.digest;
    repo.digests = [...new Set([...repo.digests, ...img.digests])].sort();
  }
  store.saveCatalogue(cat);
}

/** Imports every named image in the archive at `file`; nothing is added unless all of it verifies. */
export async function importArchive(store: ImageStore, file: string, onProgress?: Progress): Promise<ImportedImage[]> {
  const total = statSync(file).size;
  const staging = store.stagingDir();
  let done = 0;
  let layout: Record<string, unknown> | undefined;
  let index: Record<string, unknown> | undefined;
  const staged = new Set<string>();
  try {
    const counted = (async function* () {
      for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        onProgress?.((done += piece.length), total);
        yield piece;
      }
    })();
    await readTar(counted, async (e, body) => {
      const small = async () => {
        if (e.size > MAX_JSON) throw new ImportError(`${e.name} is too large`);
        const parts: Buffer[] = [];
        for await (const p of body) parts.push(p);
        return Buffer.concat(parts);
      };
      if (e.type !== 'file') return;
      if (e.name === 'oci-layout') layout = parseJson(await small(), 'oci-layout');
      else if (e.name === 'index.json') index = parseJson(await small(), 'index.json');
      else if (e.name.startsWith('blobs/sha256/')) {
        const named = `sha256:${e.name.slice('blobs/sha256/'.length)}`;
        if (!isDigest(named)) throw new ImportError(`unexpected file ${e.name} in the archive`);
        const actual = await stageBlob(body, join(staging, digestHex(named)));
        if (actual !== named) throw new ImportError(`blob ${named} is corrupted: its bytes hash to ${actual}; nothing was imported`);
        staged.add(named);
      }
    });
    if (!layout || layout.imageLayoutVersion !== '1.0.0') throw new ImportError('not an OCI image layout archive (no oci-layout file with imageLayoutVersion 1.0.0)');
    if (!index) throw new ImportError('the archive has no index.json');

    const blob = (d: string) => (staged.has(d) ? join(staging, digestHex(d)) : store.hasBlob(d) ? store.blobPath(d) : undefined);
    const manifests: Record<string, string> = {};
    const images: ImportedImage[] = [];
    for (const top of descriptors(index.manifests, 'index.json')) {
      const refName = top.annotations?.[REF_NAME];
      const ref = refName === undefined ? undefined : parseImageRef(refName);
      if (!ref) throw new ImportError(`index.json entry ${top.digest} needs a full image name in ${REF_NAME} (e.g. ghcr.io/siderolabs/installer:v1.11.5), found ${JSON.stringify(refName ?? null)}`);
      images.push({ ...ref, digest: top.digest, digests: [...walk(top, blob, manifests)] });
    }
    if (images.length === 0) throw new ImportError('index.json names no images');

    commitStaged(store, staging, staged, images, manifests);
    return images;
  } catch (err) {
    if (err instanceof TarError) throw new ImportError(`${err.message}; nothing was imported`);
    throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Writes the named images (all when `refs` is empty) to `file` as one OCI archive, via a temporary file and rename. */
export async function exportArchive(store: ImageStore, file: string, refs: ImageRef[] = [], onProgress?: Progress): Promise<{ images: number; blobs: number; bytes: number }> {
  const held = store.images();
  const chosen = refs.length === 0 ? held : refs.map((r) => {
    const found = held.find((h) => h.name === r.name && h.tag === r.tag);
    if (!found) throw new Error(`${formatImageRef(r)} is not in the image cache`);
    return found;
  });
  if (chosen.length === 0) throw new Error('the image cache is empty; nothing to export');
  const cat = store.catalogue();
  const blobs = new Set<string>();
  for (const img of chosen) for (const d of cat.repositories[img.name]!.digests) blobs.add(d);
  const sizes = new Map([...blobs].sort().map((d) => [d, statSync(store.blobPath(d)).size] as const));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: chosen.map((img) => ({
      mediaType: cat.manifests[img.digest], digest: img.digest, size: sizes.get(img.digest)!,
      annotations: { [REF_NAME]: formatImageRef(img) },
    })),
  };

  const tmp = `${file}.partial-${process.pid}`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    const tar = new TarWriter(out, Math.floor(Date.now() / 1000));
    const layoutBytes = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
    await tar.file('oci-layout', layoutBytes.length, layoutBytes);
    const indexBytes = Buffer.from(JSON.stringify(index));
    await tar.file('index.json', indexBytes.length, indexBytes);
    await tar.directory('blobs');
    await tar.directory('blobs/sha256');
    let done = 0;
    for (const [digest, size] of sizes) {
      const fh = await open(store.blobPath(digest), 'r');
      try {
        await tar.file(`blobs/sha256/${digestHex(digest)}`, size, (async function* () {
          for await (const piece of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false }) as AsyncIterable<Buffer>) {
            onProgress?.((done += piece.length), total);
            yield piece;
          }
        })());
      } finally {
        await fh.close();
      }
    }
    await tar.end();
    out.end();
    await finished(out);
    renameSync(tmp, file);
  } catch (err) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw err;
  }
  return { images: chosen.length, blobs: sizes.size, bytes: total };
}
