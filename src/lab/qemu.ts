// QEMU command lines for lab and test machines. TCG only: /dev/kvm exists
// on the build hosts but KVM guests hang there (shared/pxe/CLIENTS.md).
import { existsSync } from 'node:fs';

export type Firmware = 'bios' | 'uefi';

export const QEMU = '/usr/bin/qemu-system-x86_64';
export const OVMF = '/usr/share/ovmf/OVMF.fd';
/** The split OVMF build (code read-only, variables writable): what UEFI HTTP boot runs on. */
export const OVMF_CODE_4M = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS_4M = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/**
 * Secure Boot: Debian's secboot build (SMM, so q35 with smm=on and secure
 * flash) with the variable store that enrolls the snakeoil key in PK, KEK
 * and db (README.Debian of ovmf; OVMF_CODE_4M.snakeoil.fd is a link to it).
 */
export const OVMF_CODE_4M_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_VARS_4M_SNAKEOIL = '/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd';

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
  /** Default network. BIOS only: disk first is `-boot c` (a UEFI machine keeps the firmware's own order). */
  bootFrom?: 'network' | 'disk';
  /** Its BMC: QEMU joins an external BMC (ipmi_sim's VM port) and shows it to the guest as a KCS interface. */
  bmcLink?: { host: string; port: number };
  /** A QMP socket (unix), for freezing or inspecting the machine. */
  qmpSocket?: string;
  /** Append to serialFile instead of truncating it: a machine its BMC power-cycles keeps its earlier boots' lines. */
  appendSerial?: boolean;
  /**
   * UEFI only: `http` makes OVMF skip its PXE boot options so its own HTTP
   * boot client (HTTPv4) runs first; `pxe6` skips only PXEv4, so "UEFI
   * PXEv6" runs first; `http6` switches IPv4 off and PXEv6 too, so "UEFI
   * HTTPv6" is the only network option. All need `varsFile`: a private,
   * writable copy of OVMF_VARS_4M.fd (the firmware writes its boot options there).
   */
  uefiNetBoot?: 'pxe' | 'http' | 'pxe6' | 'http6';
  varsFile?: string;
  /** With uefiNetBoot http: Secure Boot enforced (varsFile then a copy of OVMF_VARS_4M_SNAKEOIL). */
  secureBoot?: boolean;
  /**
   * The serial port is also a TCP server here, for its BMC's Serial-over-LAN
   * (ipmi_sim connects as the client); serialFile still gets every byte.
   * The machine waits for that connection before it runs, so its firmware's
   * first lines reach the BMC (a server's BMC sees its serial port from power-on).
   */
  serialServer?: { host: string; port: number };
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
    ...firmwareArgs(vm),
    ...(vm.uuid ? ['-uuid', vm.uuid] : []),
    '-netdev', `tap,id=n0,ifname=${vm.tap},script=no,downscript=no`,
    '-device', nic,
    ...(vm.disk ? ['-drive', `file=${vm.disk},format=raw,if=ide`] : []),
    ...(vm.serialServer
      ? ['-chardev', `socket,id=serial0,host=${vm.serialServer.host},port=${vm.serialServer.port},server=on,wait=on,logfile=${vm.serialFile},logappend=${vm.appendSerial ? 'on' : 'off'}`, '-serial', 'chardev:serial0']
      : vm.appendSerial
        ? ['-chardev', `file,id=serial0,path=${vm.serialFile},append=on`, '-serial', 'chardev:serial0']
        : ['-serial', `file:${vm.serialFile}`]),
    // reconnect: QEMU keeps retrying its BMC link instead of failing when the BMC restarts.
    ...(vm.bmcLink
      ? ['-chardev', `socket,id=ipmi0,host=${vm.bmcLink.host},port=${vm.bmcLink.port},reconnect=10`,
        '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0', '-device', 'isa-ipmi-kcs,bmc=bmc0']
      : []),
    ...(vm.qmpSocket ? ['-qmp', `unix:${vm.qmpSocket},server=on,wait=off`] : []),
  ];
}

function firmwareArgs(vm: VmSpec): string[] {
  if (vm.firmware === 'bios') return ['-boot', vm.bootFrom === 'disk' ? 'c' : 'n'];
  if (vm.uefiNetBoot === undefined || vm.uefiNetBoot === 'pxe') return ['-bios', OVMF];
  if (!vm.varsFile) throw new Error(`UEFI ${vm.uefiNetBoot} boot needs a writable copy of the OVMF variables (varsFile)`);
  // OVMF (edk2 2022.11) reads these fw_cfg switches when it builds its boot
  // options: with both PXE kinds off, "UEFI HTTPv4" is the first network
  // option, as on a server whose PXE is disabled in setup.
  const secure = vm.secureBoot ? ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on'] : [];
  return [
    ...secure,
    '-drive', `if=pflash,format=raw,readonly=on,file=${vm.secureBoot ? OVMF_CODE_4M_SECBOOT : OVMF_CODE_4M}`,
    '-drive', `if=pflash,format=raw,file=${vm.varsFile}`,
    '-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n',
    ...(vm.uefiNetBoot === 'pxe6' ? [] : ['-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n']),
    ...(vm.uefiNetBoot === 'http6' ? http6Args : []),
  ];
}

/**
 * UEFI HTTPv6 alone: no IPv4 in the firmware (so no PXEv4 or HTTPv4
 * option), and a five-second boot menu wait. edk2 2022.11's HTTP boot
 * starts DHCPv6 without waiting for duplicate address detection of its
 * link-local address: Dhcp6->Start() then fails with EFI_NO_MAPPING, no
 * Solicit is sent, and the firmware prints "Could not retrieve NBP file
 * size". PXEv6 waits and retries (UefiPxeBcDxe/PxeBcDhcp6.c); HTTP boot
 * gained the same wait only in edk2-stable202508 (commit 11f1d28bcb,
 * "Wait for IPv6 DAD before issuing DHCPv6 requests"). DAD starts when the
 * NIC is connected, before the boot menu wait, so a real server's POST
 * delay, or any boot option tried first, gives it the time it needs. Two
 * seconds sufficed unloaded but not once at load average 17 (same failure).
 */
const http6Args = ['-fw_cfg', 'name=opt/org.tianocore/IPv4Support,string=n', '-boot', 'menu=on,splash-time=5000'];

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
