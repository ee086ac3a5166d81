// Which first-stage binary (or URL) a PXE client gets, from what it says it
// is: RFC 4578 §2.1 option 93 architecture types, option 60 and the iPXE
// user class. Whether the machine gets anything at all is the Lifecycle's
// call (BootAction); this module only maps client kind to file.
import type { BootAction } from '../lifecycle/boot.js';
import type { NodeRecord } from '../store/store.js';
import type { DhcpOptions } from './options.js';

export interface BootFileSettings {
  publicUrl: string;
  efiBinary: string;
  arm64Binary: string;
  bootFileForInstalled: boolean;
  /** True if the named file exists in the TFTP root. */
  inTftpRoot: (file: string) => boolean;
  /** The URL of an httpBoot: uki node's UKI, or why it has none (not cached, no inventory). */
  ukiFor?: (node: NodeRecord) => { url: string } | { why: string };
}

export type BootFile =
  | { kind: 'file'; file: string; /** UEFI HTTP boot: answer with option 60 `HTTPClient`. */ httpClient: boolean; why: string }
  | { kind: 'none'; why: string };

/** A client that network-boots: it names itself PXEClient/HTTPClient or sends an architecture. */
export function isPxeClient(o: DhcpOptions): boolean {
  return /^(PXEClient|HTTPClient)/.test(o.vendorClass ?? '') || (o.clientArch?.length ?? 0) > 0;
}

export function isIpxe(o: DhcpOptions): boolean {
  return o.userClass?.includes('iPXE') ?? false;
}

export const ARCH_NAMES: Record<number, string> = {
  0: 'x86 BIOS', 6: 'x86 UEFI', 7: 'x64 UEFI', 9: 'x64 UEFI', 10: 'arm32 UEFI', 11: 'arm64 UEFI',
  16: 'x64 UEFI HTTP', 19: 'arm64 UEFI HTTP',
};

export function chooseBootFile(o: DhcpOptions, action: BootAction, s: BootFileSettings): BootFile {
  if (!isPxeClient(o) && !isIpxe(o)) return { kind: 'none', why: 'not a PXE client' };
  if (action.kind === 'local-disk' && !s.bootFileForInstalled) return { kind: 'none', why: `boots from disk (${action.reason})` };
  // iPXE already runs: hand it the script, not iPXE again (that would loop).
  if (isIpxe(o)) return { kind: 'file', file: `${s.publicUrl}/boot.ipxe`, httpClient: false, why: 'iPXE user class' };
  const arch = o.clientArch?.[0] ?? 0;
  if ((arch === 16 || arch === 19) && action.kind !== 'unknown' && action.node.spec?.httpBoot === 'uki') return ukiBootFile(action, arch, s);
  switch (arch) {
    case 0:
      return { kind: 'file', file: 'undionly.kpxe', httpClient: false, why: 'BIOS (arch 0)' };
    case 6: case 7: case 9:
      return { kind: 'file', file: s.efiBinary, httpClient: false, why: `UEFI (arch ${arch})` };
    case 11:
      return s.inTftpRoot(s.arm64Binary)
        ? { kind: 'file', file: s.arm64Binary, httpClient: false, why: 'arm64 UEFI (arch 11)' }
        : { kind: 'none', why: `arm64 UEFI (arch 11) but ${s.arm64Binary} is not in the TFTP root${NO_ARM64_IPXE}` };
    // HTTP boot fetches the binary from the TFTP root over HTTP (/ipxe/): a
    // binary that is not there would only earn the firmware a 404 after its
    // whole DHCP exchange, so say why here instead.
    case 16:
      return s.inTftpRoot(s.efiBinary)
        ? { kind: 'file', file: `${s.publicUrl}/ipxe/${s.efiBinary}`, httpClient: true, why: 'x64 UEFI HTTP boot (arch 16)' }
        : { kind: 'none', why: `x64 UEFI HTTP boot (arch 16) but ${s.efiBinary} is not in the TFTP root` };
    case 19:
      return s.inTftpRoot(s.arm64Binary)
        ? { kind: 'file', file: `${s.publicUrl}/ipxe/${s.arm64Binary}`, httpClient: true, why: 'arm64 UEFI HTTP boot (arch 19)' }
        : { kind: 'none', why: `arm64 HTTP boot (arch 19) but ${s.arm64Binary} is not in the TFTP root${NO_ARM64_IPXE}` };
    default:
      return { kind: 'none', why: `unsupported client architecture ${arch}` };
  }
}

/** Debian's ipxe package is x86 only: say what an arm64 machine can boot instead. */
const NO_ARM64_IPXE = ' (Debian ships no arm64 iPXE: give the node httpBoot: uki and UEFI HTTP boot, or put an arm64 iPXE build there)';

/** The Talos arch whose UKI a UEFI HTTP-boot client can run (RFC 4578 / IANA processor architecture types). */
const UKI_ARCH: Record<number, 'amd64' | 'arm64'> = { 16: 'amd64', 19: 'arm64' };

/**
 * An httpBoot: uki node's firmware boots the UKI itself, with no iPXE to
 * run a script that says "boot from disk": so it gets the UKI only while it
 * is marked for install, and otherwise nothing, and falls through to its
 * disk (a Secure Boot machine could not run our unsigned iPXE anyway).
 */
function ukiBootFile(action: Exclude<BootAction, { kind: 'unknown' }>, arch: number, s: BootFileSettings): BootFile {
  const what = `${action.node.spec.secureBoot ? 'Secure Boot ' : ''}UKI by HTTP boot (arch ${arch})`;
  // The UKI is chosen by the inventory's arch: one built for the other CPU would only fail in the firmware.
  const nodeArch = action.node.spec.arch ?? 'amd64';
  if (UKI_ARCH[arch] !== nodeArch) return { kind: 'none', why: `${what}: the firmware is ${UKI_ARCH[arch]} but the inventory says arch ${nodeArch}, whose UKI it cannot run` };
  if (action.kind !== 'install') return { kind: 'none', why: `${what}: not marked for install, boots from its disk (${action.reason})` };
  const uki = s.ukiFor?.(action.node) ?? { why: 'no UKI source configured' };
  if ('why' in uki) return { kind: 'none', why: `${what}: ${uki.why}` };
  return { kind: 'file', file: uki.url, httpClient: true, why: what };
}
