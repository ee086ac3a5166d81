// What a commissioned machine's inventory entry should say, from the facts
// its maintenance mode reported: the install disk rackboot would pick, as a
// selector that matches that disk and no other, and the MAC of the NIC it
// is cabled on. Pure: the discovered list, the page and the CLI all call it.
import { selectDisk, type DiskSelector } from '../talos/disk-selector.js';
import type { DiskFact, HardwareFacts } from '../talos/hardware.js';

// Transports of disks that can be pulled out (a USB stick, an SD card): never an install target.
const REMOVABLE_TRANSPORTS = new Set(['usb', 'mmc']);

/**
 * The disk rackboot would install to: the largest fixed disk, preferring
 * solid state (the system disk wants the fast one; spinning disks usually
 * hold data). Undefined when the machine has no fixed writable disk.
 */
export function pickInstallDisk(disks: DiskFact[]): DiskFact | undefined {
  const fixed = disks.filter((d) => !d.cdrom && !d.readonly && !REMOVABLE_TRANSPORTS.has(d.transport.toLowerCase()) && d.size > 0);
  const solid = fixed.filter((d) => !d.rotational);
  const pool = solid.length > 0 ? solid : fixed;
  return [...pool].sort((a, b) => b.size - a.size || a.devPath.localeCompare(b.devPath))[0];
}

/**
 * A selector that resolves to `disk` alone among `disks`, checked with the
 * same matcher first contact uses: serial, else wwid, else model with the
 * exact size. The /dev path when none of these is unique (names can move
 * between boots, so it is the last resort).
 */
export function uniqueSelector(disk: DiskFact, disks: DiskFact[]): DiskSelector | string {
  const tries: DiskSelector[] = [];
  if (disk.serial.trim()) tries.push({ serial: disk.serial.trim() });
  if (disk.wwid.trim()) tries.push({ wwid: disk.wwid.trim() });
  if (disk.model.trim()) tries.push({ model: disk.model.trim(), size: String(disk.size) });
  for (const s of tries) {
    const m = selectDisk(s, disks);
    if (m.kind === 'one' && m.disk.devPath === disk.devPath) return s;
  }
  return disk.devPath;
}

/**
 * The NIC the machine is cabled on. The MAC that PXE-booted proves itself
 * cabled; the facts only overrule it when Talos reports that NIC with its
 * link down and exactly one other NIC with link up (a PXE ROM that booted
 * over one port while Talos sees the cable on another).
 */
export function cabledMac(bootedMac: string, facts: HardwareFacts): string {
  const macOf = (l: HardwareFacts['links'][number]) => l.permanentAddr || l.hardwareAddr;
  const booted = facts.links.find((l) => l.permanentAddr === bootedMac || l.hardwareAddr === bootedMac);
  if (!booted || booted.linkState) return bootedMac;
  const up = facts.links.filter((l) => l.linkState);
  return up.length === 1 ? macOf(up[0]!) : bootedMac;
}

export interface CommissionedEntry {
  mac: string;
  installDisk: DiskSelector | string;
  /** The disk the selector stands for, for the operator to check. */
  disk: DiskFact | undefined;
}

export function commissionedEntry(bootedMac: string, facts: HardwareFacts): CommissionedEntry {
  const disk = pickInstallDisk(facts.disks);
  return { mac: cabledMac(bootedMac, facts), installDisk: disk ? uniqueSelector(disk, facts.disks) : '/dev/sda', disk };
}
