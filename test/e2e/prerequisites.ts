// What every e2e case needs on the host, and the one thing a case needs from
// the CLI beside `serve`: the node's rendered machine config.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { config } from '../../src/cli/config.js';
import { EXIT_OK, parseCommandArgs } from '../../src/cli/command.js';
import type { World } from './world.js';

export const E2E_PREREQUISITES = [
  '/usr/bin/qemu-system-x86_64',
  '/usr/share/ovmf/OVMF.fd',
  '/usr/lib/ipxe/qemu/pxe-e1000.rom',
  '/usr/lib/ipxe/undionly.kpxe',
  '/usr/lib/ipxe/ipxe.efi',
  '/usr/lib/ipxe/snponly.efi',
  '/usr/sbin/kea-dhcp4',
  '/usr/bin/tcpdump',
  '/usr/bin/curl',
  '/bin/busybox',
  '/usr/bin/cpio',
];

/**
 * The config `rackboot config NODE --out FILE` renders: what /config must
 * serve the node, byte for byte. Run in-process: src/cli.ts may not list
 * the command yet on a branch, but the command itself is the real one.
 */
export async function renderedConfig(world: World, node: string): Promise<Buffer> {
  const out = join(world.dir, `${node}.rendered.yaml`);
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await config.run(parseCommandArgs(config, [node, '--config', world.paths.config, '--out', out]), io);
  if (code !== EXIT_OK) throw new Error(`rackboot config ${node} failed, so the pulled config cannot be checked: ${lines.join('\n')}`);
  return readFileSync(out);
}
