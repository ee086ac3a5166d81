// QEMU command lines for an arm64 UEFI machine: `-M virt` under TCG with
// Debian's AAVMF (qemu-efi-aarch64, edk2 2022.11 ArmVirtQemu) as split
// pflash (code read-only, a private copy of the variables). Measured here:
// AAVMF reads the same fw_cfg switches as OVMF, so with both PXE kinds off
// its first boot option is "UEFI HTTPv4", which sends option 93 = 19 and
// option 60 `HTTPClient:Arch:00019:UNDI:003000` (its PXEv4 sends 11 and
// `PXEClient:Arch:00011:UNDI:003000`).
import type { VmSpec } from './qemu.js';

export const QEMU_AARCH64 = '/usr/bin/qemu-system-aarch64';
export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd';
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd';

export type Arm64VmSpec = Pick<VmSpec, 'mac' | 'tap' | 'serialFile' | 'uuid' | 'memoryMb'> & {
  /** `http`: PXE off (fw_cfg), so UEFI HTTPv4 runs first; `pxe`: the firmware's own order (PXEv4 first). */
  uefiNetBoot: 'pxe' | 'http';
  /** A private, writable copy of AAVMF_VARS (the firmware writes its boot options there). */
  varsFile: string;
};

export function qemuArm64Args(vm: Arm64VmSpec): string[] {
  return [
    // cortex-a57: a plain ARMv8.0 core; `max` adds pointer authentication and
    // other features TCG emulates slowly.
    '-M', 'virt', '-cpu', 'cortex-a57', '-accel', 'tcg',
    '-m', String(vm.memoryMb ?? 1024),
    '-nographic', '-monitor', 'none', '-no-reboot',
    '-drive', `if=pflash,format=raw,readonly=on,file=${AAVMF_CODE}`,
    '-drive', `if=pflash,format=raw,file=${vm.varsFile}`,
    ...(vm.uefiNetBoot === 'http'
      ? ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n']
      : []),
    ...(vm.uuid ? ['-uuid', vm.uuid] : []),
    '-netdev', `tap,id=n0,ifname=${vm.tap},script=no,downscript=no`,
    // romfile=: Debian's virtio ROM holds x86 iPXE only; the firmware's own virtio-net driver runs.
    '-device', `virtio-net-pci,netdev=n0,mac=${vm.mac},romfile=`,
    '-serial', `file:${vm.serialFile}`,
  ];
}
