// The Talos kernel and initramfs an iPXE script points at: the inventory's
// schematic and version for one arch, as URLs on the boot plane, or why they
// cannot be (not cached). Both the install and the commissioning script need
// exactly this, and must agree on where the files are.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { schematicId } from '../../factory/schematic.js';
import type { Inventory } from '../../inventory/types.js';
import type { HttpContext } from '../context.js';

export interface BootAssetUrls { version: string; schematic: string; kernelUrl: string; initrdUrl: string }

export function cachedBootAssets(ctx: HttpContext, inv: Inventory, arch: 'amd64' | 'arm64'): BootAssetUrls | { missing: string } {
  const schematic = schematicId(inv.cluster.schematic);
  const version = inv.cluster.talosVersion;
  const dir = `${schematic}/${version}`;
  const kernel = `kernel-${arch}`;
  const initrd = `initramfs-${arch}.xz`;
  if (!existsSync(join(ctx.settings.assetsDir, dir, kernel)) || !existsSync(join(ctx.settings.assetsDir, dir, initrd))) {
    return { missing: `boot assets for Talos ${version} ${arch} (schematic ${schematic}) are not cached` };
  }
  return { version, schematic, kernelUrl: `${ctx.publicUrl}/assets/${dir}/${kernel}`, initrdUrl: `${ctx.publicUrl}/assets/${dir}/${initrd}` };
}
