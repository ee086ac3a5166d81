// Builds small but real OCI images for registry tests, written by the test
// itself into an OCI image layout directory: gzip'd tar layers, a config
// whose diff_ids are the uncompressed layers' digests, one manifest per
// platform and an index over them. `docker: true` writes the same shape in
// Docker schema 2 media types (manifest list + v2 manifests).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { TarWriter } from '../../src/registry/tar.js';

export interface Descriptor { mediaType: string; digest: string; size: number; platform?: { architecture: string; os: string }; annotations?: Record<string, string> }

export interface BuiltImage {
  /** Full reference recorded in index.json, e.g. ghcr.io/rackboot-test/tool:v1. */
  ref: string;
  /** The index (manifest list) digest. */
  digest: string;
  /** Per platform: manifest digest and its layer digests. */
  platforms: { arch: string; manifest: string; config: string; layers: string[] }[];
  /** Every blob by digest. */
  blobs: Map<string, Buffer>;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (d: Buffer) => parts.push(d));
  const w = new TarWriter(out, 1_700_000_000);
  for (const [name, body] of Object.entries(files)) await w.file(name, body.length, body);
  await w.end();
  return Buffer.concat(parts);
}

/** Builds one two-platform image; `seed` makes its bytes differ from other images'. */
export async function buildImage(ref: string, seed: string, opts: { docker?: boolean; layerBytes?: number } = {}): Promise<BuiltImage> {
  const t = opts.docker
    ? { index: 'application/vnd.docker.distribution.manifest.list.v2+json', manifest: 'application/vnd.docker.distribution.manifest.v2+json', config: 'application/vnd.docker.container.image.v1+json', layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }
    : { index: 'application/vnd.oci.image.index.v1+json', manifest: 'application/vnd.oci.image.manifest.v1+json', config: 'application/vnd.oci.image.config.v1+json', layer: 'application/vnd.oci.image.layer.v1.tar+gzip' };
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer, mediaType: string): Descriptor => {
    const digest = sha(b);
    blobs.set(digest, b);
    return { mediaType, digest, size: b.length };
  };
  const platforms: BuiltImage['platforms'] = [];
  const entries: Descriptor[] = [];
  for (const arch of ['amd64', 'arm64']) {
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    // Pseudo-random, so gzip cannot shrink a big layer to nothing.
    const big = Buffer.alloc(opts.layerBytes ?? 200_000);
    let x = createHash('sha256').update(`${seed}/${arch}`).digest().readUInt32LE(0) || 1;
    for (let i = 0; i < big.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      big[i] = x & 0xff;
    }
    const files = [
      { [`etc/${seed}-release`]: Buffer.from(`${ref} ${arch}\n`) },
      { [`usr/share/${seed}.bin`]: big },
      { [`usr/bin/${seed}-${arch}`]: Buffer.from('#!/bin/sh\necho hello\n') },
    ];
    for (const f of files) {
      const tar = await tarOf(f);
      diffIds.push(sha(tar));
      layers.push(put(gzipSync(tar), t.layer));
    }
    const config = put(Buffer.from(JSON.stringify({
      architecture: arch, os: 'linux', config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    })), t.config);
    const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: t.manifest, config, layers })), t.manifest);
    entries.push({ ...manifest, platform: { architecture: arch, os: 'linux' } });
    platforms.push({ arch, manifest: manifest.digest, config: config.digest, layers: layers.map((l) => l.digest) });
  }
  const index = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: t.index, manifests: entries })), t.index);
  return { ref, digest: index.digest, platforms, blobs };
}

/** Writes images into an OCI image layout directory (index.json names each by its full ref). */
export function writeLayout(dir: string, images: BuiltImage[]): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const manifests = images.map((img) => ({
    mediaType: JSON.parse(img.blobs.get(img.digest)!.toString()).mediaType as string,
    digest: img.digest, size: img.blobs.get(img.digest)!.length,
    annotations: { 'org.opencontainers.image.ref.name': img.ref },
  }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  for (const img of images) for (const [d, b] of img.blobs) writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
}

/** Tars a layout directory with GNU tar, as an operator would. */
export function tarLayout(dir: string, file: string): void {
  execFileSync('tar', ['-C', dir, '-cf', file, '.']);
}
