// The Unified Kernel Image (UKI) the Image Factory builds for a schematic and
// version: one PE/EFI binary with the kernel, initramfs and command line
// inside (UAPI group UKI spec), which UEFI firmware boots by HTTP boot with
// no iPXE. Upstream names it in pkg/machinery/platforms/platforms.go
// (UKIPath / SecureBootUKIPath, v1.11.5): metal-<arch>-uki.efi, and
// metal-<arch>-secureboot-uki.efi for the one signed with the Factory's
// Secure Boot key. It is cached beside kernel-<arch> and initramfs-<arch>.xz.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Arch } from './assets.js';
import { schematicId, type SchematicInput } from './schematic.js';

export function ukiAssetName(arch: Arch, secureBoot: boolean): string {
  return `metal-${arch}${secureBoot ? '-secureboot' : ''}-uki.efi`;
}

/** The UKI names a set of nodes needs, per arch (none when no node boots a UKI). */
export function ukisIn(nodes: readonly { arch?: Arch; httpBoot?: string; secureBoot?: boolean }[]): { arch: Arch; name: string }[] {
  const names = new Map<string, { arch: Arch; name: string }>();
  for (const n of nodes) {
    if (n.httpBoot !== 'uki') continue;
    const arch = n.arch ?? 'amd64';
    const name = ukiAssetName(arch, n.secureBoot === true);
    names.set(name, { arch, name });
  }
  return [...names.values()];
}

export const isUkiName = (name: string) => /^metal-(amd64|arm64)(-secureboot)?-uki\.efi$/.test(name);

/**
 * Undefined when the file is a PE/EFI image with a `.linux` section (what
 * makes a PE a UKI: systemd-stub boots the kernel in it), else why not.
 */
export function ukiProblem(path: string): string | undefined {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(4096);
    const n = readSync(fd, h, 0, h.length, 0);
    if (n < 0x40 || h.toString('latin1', 0, 2) !== 'MZ') return 'is not a PE/EFI image (no "MZ" header)';
    const pe = h.readUInt32LE(0x3c);
    if (pe + 24 > n || h.toString('latin1', pe, pe + 4) !== 'PE\0\0') return 'is not a PE/EFI image (no "PE\\0\\0" signature where 0x3c points)';
    // COFF header: section count at +6, optional header size at +20; the section table follows it, 40 bytes a section.
    const sections = h.readUInt16LE(pe + 6);
    const table = pe + 24 + h.readUInt16LE(pe + 20);
    for (let i = 0; i < sections; i++) {
      const at = table + i * 40;
      if (at + 8 > n) break;
      if (h.toString('latin1', at, at + 8).replace(/\0+$/, '') === '.linux') return undefined;
    }
    return 'is a PE/EFI image but not a UKI (no .linux section with a kernel)';
  } finally {
    closeSync(fd);
  }
}

/** Where the node's UKI sits in the cache, for the inventory's schematic and version; or why it cannot be served. */
export function ukiInCache(
  assetsDir: string, inventory: { cluster: { schematic: SchematicInput; talosVersion: string } } | undefined,
  node: { arch?: Arch; secureBoot?: boolean },
): { path: string; name: string; schematic: string; version: string } | { why: string } {
  if (!inventory) return { why: 'no valid inventory loaded yet' };
  const schematic = schematicId(inventory.cluster.schematic);
  const version = inventory.cluster.talosVersion;
  const name = ukiAssetName(node.arch ?? 'amd64', node.secureBoot === true);
  const path = join(assetsDir, schematic, version, name);
  if (!existsSync(path)) return { why: `${name} for Talos ${version} (schematic ${schematic}) is not cached; run rackboot assets fetch` };
  return { path, name, schematic, version };
}

/** The per-node URL a UKI node's HTTP-boot firmware is sent (src/http/boot/uki.ts serves it). */
export const ukiUrl = (publicUrl: string, mac: string) => `${publicUrl}/uki/${mac.replaceAll(':', '-')}.efi`;

type InventoryLike = Parameters<typeof ukiInCache>[1];

/**
 * DHCP's view: the node's UKI URL while the UKI is cached, else why not (so
 * the firmware is not sent to a 404). The URL names `askingMac`, the NIC
 * whose firmware asked (one of the node's MACs): the route finds the node
 * by any of them, and the fetch record and events then name the NIC that
 * booted rather than the node's primary one.
 */
export function ukiSource(assetsDir: string, inventory: () => InventoryLike, publicUrl: string) {
  return (node: { spec: { arch?: Arch; secureBoot?: boolean } }, askingMac: string): { url: string } | { why: string } => {
    const uki = ukiInCache(assetsDir, inventory(), node.spec);
    return 'why' in uki ? uki : { url: ukiUrl(publicUrl, askingMac) };
  };
}
