// A QEMU machine described the way the commissioning e2e needs it: three
// disks of three transports with explicit serials and models, two NICs,
// SMBIOS system values. It boots the Talos stand-in directly (no PXE) with
// rackboot.hwreport, so the stand-in prints what the kernel sees of it.
import type { HardwareReport } from '../../src/lab/standin-init.js';
import type { FakeDisk } from '../fakes/talos-node.js';

export const HW_MACHINE = {
  system: { manufacturer: 'Lab', productName: 'R-17', serialNumber: 'CHASSIS-17' },
  nics: ['52:54:00:e2:17:01', '52:54:00:e2:17:02'],
  disks: {
    nvme: { serial: 'NVME-SYS-1', sizeMiB: 64 },
    virtio: { serial: 'DATA-A', sizeMiB: 128 },
    scsi: { serial: 'DATA-B', product: 'SLOWDISK', wwn: '0x5000c50015ea71ac', sizeMiB: 96 },
  },
} as const;

/** QEMU arguments for the machine; `images` are raw files for the nvme, virtio and scsi disks. */
export function hardwareMachineArgs(o: { kernel: string; initramfs: string; serialFile: string; images: { nvme: string; virtio: string; scsi: string } }): string[] {
  const d = HW_MACHINE.disks;
  const s = HW_MACHINE.system;
  return [
    '-accel', 'tcg', '-m', '512', '-nographic', '-monitor', 'none', '-no-reboot',
    '-kernel', o.kernel, '-initrd', o.initramfs, '-append', 'console=ttyS0 quiet rackboot.hwreport=3',
    '-smbios', `type=1,manufacturer=${s.manufacturer},product=${s.productName},serial=${s.serialNumber}`,
    '-drive', `file=${o.images.nvme},if=none,id=d0,format=raw`, '-device', `nvme,serial=${d.nvme.serial},drive=d0`,
    '-drive', `file=${o.images.virtio},if=none,id=d1,format=raw`, '-device', `virtio-blk-pci,drive=d1,serial=${d.virtio.serial}`,
    '-device', 'virtio-scsi-pci,id=scsi0',
    '-drive', `file=${o.images.scsi},if=none,id=d2,format=raw`,
    '-device', `scsi-hd,drive=d2,bus=scsi0.0,product=${d.scsi.product},serial=${d.scsi.serial},wwn=${d.scsi.wwn},rotation_rate=7200`,
    // Each NIC on a hub of its own with no host side: the machine reaches nothing.
    ...HW_MACHINE.nics.flatMap((mac, i) => ['-netdev', `hubport,id=n${i},hubid=${i}`, '-device', `virtio-net-pci,netdev=n${i},mac=${mac}`]),
    '-serial', `file:${o.serialFile}`,
  ];
}

// sysfs subsystem → block.Disk transport as Talos names it (go-blockdevice's transport detection).
const TRANSPORT: Record<string, string> = { nvme: 'nvme', virtio: 'virtio', scsi: 'scsi' };

/**
 * The kernel's view as the fake Talos node's disk list: what Talos's
 * block.Disk would carry for these devices (serial from the device, the
 * virtio disk or SCSI VPD page 0x80; wwid; size from 512-byte sectors).
 */
export function reportedDisks(r: HardwareReport): FakeDisk[] {
  return Object.entries(r.disks).map(([name, f]) => ({
    device_name: name,
    size: Number(f.size ?? 0) * 512,
    model: (f['device/model'] ?? '').trim(),
    serial: (f['device/serial'] ?? f.serial ?? f['device/vpd_pg80'] ?? '').trim(),
    wwid: (f.wwid ?? f['device/wwid'] ?? '').trim(),
    transport: TRANSPORT[f.subsystem ?? ''] ?? f.subsystem ?? '',
    rotational: f['queue/rotational'] === '1',
  }));
}
