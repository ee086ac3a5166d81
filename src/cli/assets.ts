import { join, resolve } from 'node:path';
import { ARCHES, FetchError, fetchAssets, importAssets, type Arch, type CachedAsset } from '../factory/assets.js';
import { cliProgressSink, progressReporter } from '../factory/progress.js';
import { schematicId } from '../factory/schematic.js';
import { ukisIn } from '../factory/uki.js';
import { Store } from '../store/store.js';
import { clusterInputs } from './cluster-inputs.js';
import type { Inventory } from '../inventory/types.js';
import type { Settings } from '../settings/settings.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type Io, type ParsedArgs } from './command.js';

const VERSION = /^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

function report(io: Io, assets: CachedAsset[], verb: 'fetched' | 'imported'): void {
  for (const a of assets) io.out(`${a.fetched ? verb : 'already cached'}  ${a.name}  ${a.size} bytes  sha256 ${a.sha256}  ${a.path}`);
}

/**
 * What `fetch` and `import` share: the inventory and settings, the store the
 * asset records go into, progress on stderr, the report and one error line
 * (plus what `explain` adds for that error).
 */
async function cacheAssets(
  args: ParsedArgs, io: Io, verb: 'fetch' | 'import',
  work: (c: { settings: Settings; inventory: Inventory; db: Store['db']; onProgress: (name: string) => ReturnType<typeof progressReporter> }) => Promise<CachedAsset[]>,
  explain: (err: unknown) => void = () => undefined,
): Promise<number> {
  const inputs = clusterInputs(args, io, { secrets: false });
  if (!inputs) return EXIT_FAILURE;
  const { settings, inventory } = inputs;
  const store = new Store(join(settings.dataDir, 'rackboot.db'));
  const sink = cliProgressSink(io.err);
  try {
    const assets = await work({ settings, inventory, db: store.db, onProgress: (name) => progressReporter(sink, name) });
    report(io, assets, verb === 'fetch' ? 'fetched' : 'imported');
    return EXIT_OK;
  } catch (err) {
    io.err(`rackboot assets ${verb}: ${(err as Error).message}`);
    explain(err);
    return EXIT_FAILURE;
  } finally {
    store.close();
  }
}

export const assetsFetch: Command = {
  name: ['assets', 'fetch'],
  summary: 'download Talos boot assets into the cache',
  usage: `rackboot assets fetch [--version V] [--arch amd64|arm64] [--register]

Downloads kernel-ARCH and initramfs-ARCH.xz for the inventory's schematic
(and metal-ARCH[-secureboot]-uki.efi when a node has httpBoot: uki or
secureBoot: true) from the Image Factory (settings factory.url, default https://factory.talos.dev)
into ASSETS_DIR/<schematic>/<version>/, resuming partial downloads, and
records each file's size and sha256. Files already cached and intact are
not downloaded again. --version defaults to the inventory's talosVersion,
--arch to amd64. --register first POSTs the schematic to the factory (needed
once for a schematic the factory has not seen). Without a network it fails
within seconds; use rackboot assets import on air-gapped sites.`,
  options: { version: { type: 'string' }, arch: { type: 'string' }, register: { type: 'boolean' } },
  async run(args, io) {
    const arch = (args.values.arch as string | undefined) ?? 'amd64';
    if (!(ARCHES as readonly string[]).includes(arch)) throw new UsageError(`--arch must be one of ${ARCHES.join(', ')}`);
    const version = args.values.version as string | undefined;
    if (version !== undefined && !VERSION.test(version)) throw new UsageError('--version must look like v1.11.5');
    return cacheAssets(args, io, 'fetch', ({ settings, inventory, db, onProgress }) => fetchAssets({
      factoryUrl: settings.factory.url, assetsDir: settings.assetsDir, db,
      schematic: inventory.cluster.schematic, version: version ?? inventory.cluster.talosVersion, arch: arch as Arch,
      register: args.values.register === true,
      ukis: ukisIn(inventory.nodes).filter((u) => u.arch === arch).map((u) => u.name),
      onProgress,
    }), (err) => {
      if (!(err instanceof FetchError)) return;
      io.err(`  schematic ${err.schematic}; the files it tried:`);
      for (const url of err.urls) io.err(`    ${url}`);
      io.err('  without a network here: download them on a connected machine, then rackboot assets import --dir DIR');
    });
  },
};

export const assetsImport: Command = {
  name: ['assets', 'import'],
  summary: 'add boot assets downloaded elsewhere (air-gapped sites)',
  usage: `rackboot assets import --dir DIR [--version V] [--schematic ID]

Copies kernel-ARCH and initramfs-ARCH.xz (amd64 and/or arm64), and any
metal-ARCH[-secureboot]-uki.efi, from DIR into
ASSETS_DIR/<schematic>/<version>/ and records their sizes and sha256. Both
files of an arch must be present; a UKI must be a PE/EFI image with a
.linux section. A kernel must be a Linux kernel (bzImage or
EFI stub) and an initramfs a compressed (xz, zstd, gzip) cpio archive, or
nothing is imported. If DIR holds a sha256sum listing
(sha256sum.txt, SHA256SUMS or sha256sums), every file must match it.
--schematic and --version default to the inventory's (see rackboot schematic).
Download them on a connected machine from
  https://factory.talos.dev/image/<schematic>/<version>/kernel-amd64
  https://factory.talos.dev/image/<schematic>/<version>/initramfs-amd64.xz
  https://factory.talos.dev/image/<schematic>/<version>/metal-amd64-secureboot-uki.efi (Secure Boot nodes)`,
  options: { dir: { type: 'string' }, version: { type: 'string' }, schematic: { type: 'string' } },
  async run(args, io) {
    const dir = args.values.dir as string | undefined;
    if (!dir) throw new UsageError('--dir DIR is required');
    const version = args.values.version as string | undefined;
    if (version !== undefined && !VERSION.test(version)) throw new UsageError('--version must look like v1.11.5');
    const schematic = args.values.schematic as string | undefined;
    if (schematic !== undefined && !/^[0-9a-f]{64}$/.test(schematic)) throw new UsageError('--schematic must be a 64-character hex schematic ID');
    return cacheAssets(args, io, 'import', ({ settings, inventory, db, onProgress }) => importAssets({
      dir: resolve(dir), assetsDir: settings.assetsDir, db,
      schematic: schematic ?? schematicId(inventory.cluster.schematic), version: version ?? inventory.cluster.talosVersion,
      onProgress,
    }));
  },
};
