// The native addon (native/bindtodevice) does what Node cannot: UDP bound to
// one interface for DHCP, raw ICMPv6 for router advertisements, neighbour
// entries for unicast DHCP replies (arp.c), and, each in a file of its own,
// TFTP's batched sends (udp-batch.c) and ACK receiver (tftp-acks.c), the asset plane's sendfile
// (sendfile.c), TCP_USER_TIMEOUT for PostgreSQL sessions and malloc_trim.
// DHCP and NDP load it here and refuse to start without it, with the command
// that builds it; the others take their calls through optionalAddonCalls and
// fall back to plain Node where a build lacks them.
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
  /** Absent from a build older than native/bindtodevice/arp.c: DHCP then keeps broadcasting. */
  setArp?(fd: number, ifname: string, ipv4: string, mac: Buffer): void;
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

/**
 * The named functions of the addon, or undefined when it is not built or is
 * an older build without every one of them: the caller then takes its
 * plain-Node path.
 */
export function optionalAddonCalls<T extends object>(names: readonly (keyof T & string)[], path = findAddon()): T | undefined {
  try {
    const addon = createRequire(import.meta.url)(path) as Record<string, unknown>;
    return names.every((n) => typeof addon[n] === 'function') ? (addon as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The addon lives at the package root; this module runs from src/ or dist/
 * (or a test build below the root). RACKBOOT_ADDON names another build of
 * it instead: the AddressSanitizer build that test/net/addon-asan.test.ts
 * runs the addon's tests against.
 */
export function findAddon(): string {
  const chosen = process.env.RACKBOOT_ADDON;
  if (chosen) return chosen;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..', '..', ADDON_RELATIVE);
    dir = up;
  }
}
