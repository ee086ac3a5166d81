// QEMU command lines for lab and test machines. TCG only: /dev/kvm exists
// on the build hosts but KVM guests hang there (shared/pxe/CLIENTS.md).
import { existsSync } from 'node:fs';

export type Firmware = 'bios' | 'uefi';

export const QEMU = '/usr/bin/qemu-system-x86_64';
export const OVMF = '/usr/share/ovmf/OVMF.fd';

export interface VmSpec {
  firmware: Firmware;
  mac: string;
  tap: string;
  /** The serial console goes to this file. */
  serialFile: string;
  uuid?: string;
  memoryMb?: number;
  /** A raw disk image; without one the machine has no disk. */
  disk?: string;
}

export function qemuArgs(vm: VmSpec): string[] {
  // BIOS: e1000 with QEMU's iPXE option ROM, which runs DHCP itself.
  // UEFI: OVMF has no e1000 driver, so virtio-net with an empty romfile lets
  // the firmware's own PXE client run, as on a real UEFI server.
  const nic = vm.firmware === 'bios'
    ? `e1000,netdev=n0,mac=${vm.mac}`
    : `virtio-net-pci,netdev=n0,mac=${vm.mac},romfile=,bootindex=1`;
  return [
    '-accel', 'tcg',
    '-m', String(vm.memoryMb ?? 512),
    '-nographic', '-monitor', 'none', '-no-reboot',
    ...(vm.firmware === 'uefi' ? ['-bios', OVMF] : ['-boot', 'n']),
    ...(vm.uuid ? ['-uuid', vm.uuid] : []),
    '-netdev', `tap,id=n0,ifname=${vm.tap},script=no,downscript=no`,
    '-device', nic,
    ...(vm.disk ? ['-drive', `file=${vm.disk},format=raw,if=ide`] : []),
    '-serial', `file:${vm.serialFile}`,
  ];
}

/** What the lab and the e2e cases need on this host, each with the package that brings it. */
export function firmwarePrerequisites(): { what: string; path: string; pkg: string; present: boolean }[] {
  return [
    { what: 'QEMU', path: QEMU, pkg: 'qemu-system-x86' },
    { what: 'OVMF UEFI firmware', path: OVMF, pkg: 'ovmf' },
    { what: 'iPXE option ROM for e1000', path: '/usr/lib/ipxe/qemu/pxe-e1000.rom', pkg: 'ipxe-qemu' },
    { what: 'iPXE BIOS chainload binary', path: '/usr/lib/ipxe/undionly.kpxe', pkg: 'ipxe' },
    { what: 'iPXE UEFI binary', path: '/usr/lib/ipxe/ipxe.efi', pkg: 'ipxe' },
    { what: 'iPXE UEFI SNP binary', path: '/usr/lib/ipxe/snponly.efi', pkg: 'ipxe' },
  ].map((p) => ({ ...p, present: existsSync(p.path) }));
}
