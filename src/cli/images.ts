// rackboot images list|import|export: the image cache behind the boot
// plane's /v2/ registry mirror (air-gapped racks).
import { resolve } from 'node:path';
import { cliProgressSink, progressReporter } from '../factory/progress.js';
import { inventoryImages } from '../registry/cluster-images.js';
import { ImageStore } from '../registry/image-store.js';
import { exportArchive, importArchive, type Progress } from '../registry/oci-archive.js';
import { fetchImages } from '../registry/fetch.js';
import { parseImageRef, type ImageRef } from '../registry/reference.js';
import { clusterInputs } from './cluster-inputs.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, UsageError, type Command, type Io } from './command.js';
import type { Inventory } from '../inventory/types.js';
import type { Settings } from '../settings/settings.js';

function progressFor(io: Io, name: string): { onProgress: Progress; done(): void } {
  const r = progressReporter(cliProgressSink(io.err), name);
  return { onProgress: (received, total) => r.update({ received, total, resumedFrom: 0 }), done: () => r.done() };
}

/** The references the inventory's cluster pulls. */
export function neededImages(settings: Settings, inventory: Inventory): string[] {
  return inventoryImages(settings.factory.url, inventory.cluster);
}

export const imagesList: Command = {
  name: ['images', 'list'],
  summary: 'print the container images the inventory\'s cluster needs',
  usage: `rackboot images list [--missing]

Prints one image reference a line: the factory installer for the inventory's
schematic and Talos version, then etcd, CoreDNS, the pause image, the
Kubernetes control-plane images and kubelet at kubernetesVersion, and the CNI
(flannel) images, as talosctl derives them for that Talos release. Each line
is followed by "present" or "missing" (in this appliance's image cache) unless
--missing is given, which prints only the missing references, bare.`,
  options: { missing: { type: 'boolean' } },
  async run(args, io) {
    const inputs = clusterInputs(args, io, { secrets: false });
    if (!inputs) return EXIT_FAILURE;
    const store = new ImageStore(inputs.settings.dataDir);
    const held = new Set(store.images().map((i) => `${i.name}:${i.tag}`));
    for (const ref of neededImages(inputs.settings, inputs.inventory)) {
      const parsed = parseImageRef(ref);
      const present = parsed !== undefined && held.has(`${parsed.name}:${parsed.tag}`);
      if (args.values.missing) {
        if (!present) io.out(ref);
      } else io.out(`${ref}  ${present ? 'present' : 'missing'}`);
    }
    return EXIT_OK;
  },
};

export const imagesImport: Command = {
  name: ['images', 'import'],
  summary: 'add images from an OCI archive (air-gapped sites)',
  usage: `rackboot images import FILE

Reads FILE, an OCI image layout as one tar (what rackboot images export and
skopeo copy ... oci-archive:FILE write), into DATA/registry. Every blob is
hashed and must match its sha256 name, and every manifest's blobs must be in
the archive or already cached; otherwise nothing is imported. index.json must
name each image in full (org.opencontainers.image.ref.name, e.g.
ghcr.io/siderolabs/installer:v1.11.5). A running daemon serves the images at
once.`,
  async run(args, io) {
    const [file, extra] = args.positionals;
    if (!file || extra) throw new UsageError('expected exactly one FILE');
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const p = progressFor(io, 'import');
    const images = await importArchive(new ImageStore(settings.dataDir), resolve(file), p.onProgress);
    p.done();
    for (const img of images) io.out(`imported  ${img.name}:${img.tag}  ${img.digest}  ${img.digests.length} blobs`);
    return EXIT_OK;
  },
};

export const imagesExport: Command = {
  name: ['images', 'export'],
  summary: 'write cached images to one OCI archive',
  usage: `rackboot images export FILE [IMAGE...]

Writes the named images (default: every cached image) with all their
platforms to FILE as one OCI image layout tar, for rackboot images import on
another appliance. FILE appears only when complete.`,
  async run(args, io) {
    const [file, ...names] = args.positionals;
    if (!file) throw new UsageError('expected FILE');
    const refs: ImageRef[] = names.map((n) => {
      const r = parseImageRef(n);
      if (!r) throw new UsageError(`not an image reference with a tag: ${n}`);
      return r;
    });
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const p = progressFor(io, 'export');
    const r = await exportArchive(new ImageStore(settings.dataDir), resolve(file), refs, p.onProgress);
    p.done();
    io.out(`exported ${r.images} images, ${r.blobs} blobs, ${r.bytes} bytes to ${resolve(file)}`);
    return EXIT_OK;
  },
};

export const imagesFetch: Command = {
  name: ['images', 'fetch'],
  summary: 'pull the cluster\'s images from their registries into the cache',
  usage: `rackboot images fetch [IMAGE...] [--from URL]

Pulls the named images (default: what rackboot images list --missing prints)
with all their platforms over the registry API, verifying every manifest and
blob against its sha256 digest, into DATA/registry; on any failure nothing is
added. Run it on a connected machine, then rackboot images export FILE and
carry FILE to the air-gapped appliance. --from URL pulls everything from one
mirror that understands containerd's ?ns=<registry> (another rackboot's boot
URL, e.g. http://10.0.0.5:8080) instead of each image's own registry.`,
  options: { from: { type: 'string' } },
  async run(args, io) {
    const from = args.values.from as string | undefined;
    if (from !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(from)) throw new UsageError('--from must be a base URL like http://10.0.0.5:8080');
    const named = args.positionals.map((n) => {
      const r = parseImageRef(n);
      if (!r) throw new UsageError(`not an image reference with a tag: ${n}`);
      return r;
    });
    let refs = named;
    let settings: Settings | undefined;
    if (named.length === 0) {
      const inputs = clusterInputs(args, io, { secrets: false });
      if (!inputs) return EXIT_FAILURE;
      settings = inputs.settings;
      const held = new Set(new ImageStore(settings.dataDir).images().map((i) => `${i.name}:${i.tag}`));
      refs = neededImages(settings, inputs.inventory).map((r) => parseImageRef(r)!).filter((r) => !held.has(`${r.name}:${r.tag}`));
    } else settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    if (refs.length === 0) {
      io.out('every image the cluster needs is already cached');
      return EXIT_OK;
    }
    const images = await fetchImages(new ImageStore(settings.dataDir), refs, {
      from,
      onProgress: (what) => {
        const p = progressFor(io, what);
        return (done, total) => {
          p.onProgress(done, total);
          if (total !== undefined && done >= total) p.done();
        };
      },
    });
    for (const img of images) io.out(`fetched  ${img.name}:${img.tag}  ${img.digest}  ${img.digests.length} blobs`);
    return EXIT_OK;
  },
};

export const imagesPrune: Command = {
  name: ['images', 'prune'],
  summary: 'remove cached images the inventory no longer needs',
  usage: `rackboot images prune [--keep IMAGE]...

Removes from the image cache every image that rackboot images list does not
print for the current inventory (e.g. the previous Talos or Kubernetes
release after an upgrade), then every blob no remaining image uses. --keep
IMAGE (repeatable) keeps another image too.`,
  options: { keep: { type: 'string', multiple: true } },
  async run(args, io) {
    const extra = ((args.values.keep as string[] | undefined) ?? []).map((n) => {
      const r = parseImageRef(n);
      if (!r) throw new UsageError(`not an image reference with a tag: ${n}`);
      return `${r.name}:${r.tag}`;
    });
    const inputs = clusterInputs(args, io, { secrets: false });
    if (!inputs) return EXIT_FAILURE;
    const keep = new Set([...neededImages(inputs.settings, inputs.inventory).map((r) => parseImageRef(r)!).map((r) => `${r.name}:${r.tag}`), ...extra]);
    const r = new ImageStore(inputs.settings.dataDir).prune(keep);
    for (const img of r.images) io.out(`removed  ${img}`);
    io.out(`pruned ${r.images.length} images, ${r.blobs} blobs, ${r.bytes} bytes`);
    return EXIT_OK;
  },
};

export const imagesCommands: Command[] = [imagesList, imagesFetch, imagesImport, imagesExport, imagesPrune];
