// A machine with three disks of three transports, as the QEMU e2e describes one.
import type { FakeDisk } from '../fakes/talos-node.js';

export const THREE_DISKS: FakeDisk[] = [
  { device_name: 'nvme0n1', size: 512e9, model: 'QEMU NVMe Ctrl', serial: 'NVME-SYS-1', wwid: 'eui.0000000000000001', transport: 'nvme' },
  { device_name: 'vda', size: 2e12, model: '', serial: 'DATA-A', transport: 'virtio', rotational: true },
  { device_name: 'sda', size: 1e12, model: 'SLOWDISK', serial: 'DATA-B', transport: 'scsi', rotational: true },
];
