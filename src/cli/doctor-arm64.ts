// branch arm64 (issue 23 item 4): what the inventory's arm64 nodes can boot.
// Debian's ipxe package is x86 only, so an arm64 node left on iPXE (the
// default httpBoot) needs an arm64 iPXE build the operator put in the TFTP
// root; without it DHCP gives that node no boot file. httpBoot: uki (UEFI
// HTTP boot of the Factory's metal-arm64-uki.efi) needs no iPXE at all.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../settings/settings.js';
import type { Finding } from './doctor.js';

export function arm64BootFindings(settings: Pick<Settings, 'dhcp' | 'tftp'>, nodes: readonly { name: string; arch?: string; httpBoot?: string }[]): Finding[] {
  const onIpxe = nodes.filter((n) => n.arch === 'arm64' && n.httpBoot !== 'uki').map((n) => n.name);
  if (onIpxe.length === 0) return [];
  const bin = settings.dhcp.arm64Binary;
  const path = join(settings.tftp.root, bin);
  const check = `arm64 iPXE ${bin}`;
  if (existsSync(path)) return [{ level: 'ok', check, detail: `${path} (for ${onIpxe.join(', ')})` }];
  return [{
    level: 'fail', check,
    detail: `arm64 node${onIpxe.length === 1 ? '' : 's'} ${onIpxe.join(', ')} boot${onIpxe.length === 1 ? 's' : ''} iPXE (httpBoot: ipxe, the default) but ${path} is missing: DHCP gives them no boot file`,
    fix: `give them httpBoot: uki (UEFI HTTP boot of metal-arm64-uki.efi; Debian ships no arm64 iPXE), or put an arm64 iPXE build at ${path}`,
  }];
}
