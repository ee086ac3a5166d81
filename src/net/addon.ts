// The native addon (native/bindtodevice) gives sockets Node cannot make:
// UDP bound to one interface for DHCP, and raw ICMPv6 for router
// advertisements. Both services load it here, so a missing build gives one
// clear message with the command that fixes it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ADDON_RELATIVE = 'native/bindtodevice/build/Release/bindtodevice.node';
export const ADDON_BUILD = 'node "$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir=/usr -C native/bindtodevice';

export interface InterfaceSockets {
  openUdp4(ifname: string, port: number): number;
  openIcmp6(ifname: string): { fd: number; ifindex: number };
  sendIcmp6(fd: number, ifindex: number, dst: string, data: Buffer): number;
  recvIcmp6(fd: number): { data: Buffer; from: string } | null;
  closeFd(fd: number): void;
}

/** Loads the addon, or explains how to build it. `what` names the service that needs it. */
export function loadInterfaceSockets(what: string, path = findAddon()): InterfaceSockets {
  try {
    return createRequire(import.meta.url)(path) as InterfaceSockets;
  } catch (err) {
    throw new Error(
      `${what} needs the bindtodevice addon to use only the provisioning interface, and it is not built ` +
        `(${(err as Error).message.split('\n')[0]}). Build it from the repository root with: ${ADDON_BUILD}`,
    );
  }
}

/** The addon lives at the package root; this module runs from src/ or dist/ (or a test build below the root). */
export function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..', '..', ADDON_RELATIVE);
    dir = up;
  }
}
