// Does the inventory's installDisk name one of the disks the node reports?
// Upstream's storage.StorageService/Disks (internal/app/storaged/server.go,
// v1.11.5..v1.13.0) fills device_name as a full path (filepath.Join("/dev",
// id)), plus serial, wwid and bus_path from the disk's block.Disk resource;
// it does not report the /dev/disk/by-* symlinks. So:
// - /dev/sdX, /dev/nvme0n1, ...: compared with device_name;
// - /dev/disk/by-id/NAME: udev builds NAME from the disk's WWN (wwn-0x<hex>,
//   nvme-eui.<hex>) or from bus, model and serial (ata-…_<serial>,
//   virtio-<serial>, nvme-…_<serial>, scsi-…<serial>); a name that ends in
//   exactly one disk's serial or carries its wwid resolves to that disk.
//   Anything else cannot be checked from the reply;
// - /dev/disk/by-path/…: bus_path is the sysfs path, not udev's by-path
//   name, and a controller can hold several disks: never checked.
// "Cannot be checked" is not "absent": the config goes out, and Talos itself
// resolves the symlink when it installs.
import type { Disk } from './client.js';

export type DiskMatch =
  | { kind: 'found'; device: string; via: string }
  | { kind: 'absent'; have: string[] }
  | { kind: 'unverifiable'; why: string };

/** Full /dev path of a reported disk; bare names (older or odd replies) get /dev/ once. */
export const devicePath = (d: Pick<Disk, 'device_name'>): string => (d.device_name.startsWith('/') ? d.device_name : `/dev/${d.device_name}`);

function wwidHex(wwid: string): string | undefined {
  const m = /^(?:naa\.|eui\.|0x)?([0-9a-f]+)$/i.exec(wwid.trim());
  return m ? m[1]!.toLowerCase() : undefined;
}

function byIdMatches(name: string, d: Disk): string | undefined {
  const lower = name.toLowerCase();
  const hex = d.wwid ? wwidHex(d.wwid) : undefined;
  if (hex && (lower === `wwn-0x${hex}` || lower === `nvme-eui.${hex}` || lower.endsWith(`-0x${hex}`))) return `wwid ${d.wwid}`;
  const serial = d.serial.trim();
  if (serial && (name.endsWith(`_${serial}`) || name.endsWith(`-${serial}`) || name.endsWith(serial) && /^scsi-/.test(name))) return `serial ${serial}`;
  return undefined;
}

export function matchInstallDisk(installDisk: string, disks: Disk[]): DiskMatch {
  const have = disks.map(devicePath);
  if (installDisk.startsWith('/dev/disk/by-id/')) {
    const name = installDisk.slice('/dev/disk/by-id/'.length);
    const hits = disks.flatMap((d) => {
      const via = byIdMatches(name, d);
      return via ? [{ device: devicePath(d), via }] : [];
    });
    if (hits.length === 1) return { kind: 'found', ...hits[0]! };
    if (hits.length > 1) return { kind: 'unverifiable', why: `${installDisk} fits ${hits.map((h) => h.device).join(' and ')}; Talos resolves it when it installs` };
    return { kind: 'unverifiable', why: `${installDisk} is not made from any reported serial or wwid (the Disks reply carries no by-id names); Talos resolves it when it installs` };
  }
  if (installDisk.startsWith('/dev/disk/')) {
    return { kind: 'unverifiable', why: `${installDisk}: the Disks reply carries no ${installDisk.split('/')[3]} names (bus_path is the sysfs path); Talos resolves it when it installs` };
  }
  return have.includes(installDisk) ? { kind: 'found', device: installDisk, via: 'device name' } : { kind: 'absent', have };
}
