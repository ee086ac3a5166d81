// Who is behind a peer address on the provisioning network: the kernel's
// neighbour (ARP) table says which MAC answered for it. A TCP peer on our
// own link always has a complete entry by the time its request arrives (our
// SYN-ACK could not have reached it otherwise); a routed peer has none, as
// only its router's address is a neighbour. The boot-access policy asks
// this through RequesterIdentity; tests give it a FakeNeighbours instead.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { normalizeMac } from '../inventory/mac.js';
import { optionalAddonCalls } from './addon.js';

export interface RequesterIdentity {
  /** The MAC the provisioning network shows for `address`, or undefined when no neighbour entry holds it (a routed peer). */
  neighbourMac(address: string): string | undefined;
}

export interface NeighbourEntry {
  address: string;
  mac: string;
  device: string;
}

/** ATF_COM in /proc/net/arp's Flags column: the entry is resolved. */
const ATF_COM = 0x2;

/**
 * Parses /proc/net/arp: a header line, then one line per entry
 * (address, HW type, flags, HW address, mask, device). Incomplete and
 * malformed lines are left out.
 */
export function parseArpTable(text: string): NeighbourEntry[] {
  const entries: NeighbourEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [address, , flags, hw, , device] = line.trim().split(/\s+/);
    if (!address || !flags || !hw || !device) continue;
    const mac = normalizeMac(hw);
    if (!mac || mac === '00:00:00:00:00:00' || (Number.parseInt(flags, 16) & ATF_COM) === 0) continue;
    entries.push({ address, mac, device });
  }
  return entries;
}

/** The addon's one-entry lookup (native/bindtodevice/arp.c): the MAC of the complete entry for `ipv4` on `ifname`, or null. */
export type NeighbourLookup = (ifname: string, ipv4: string) => string | null;

function addonLookup(): NeighbourLookup | undefined {
  const addon = optionalAddonCalls<{ getArp: NeighbourLookup }>(['getArp']);
  return addon && ((ifname, ipv4) => addon.getArp(ifname, ipv4));
}

/** The real table, read at each request from the daemon's own network namespace. */
export class KernelNeighbours implements RequesterIdentity {
  private readonly lookup: NeighbourLookup | undefined;

  /** `file` stands in for /proc/net/arp (tests); `lookup` defaults to the addon's when no file is given. */
  constructor(private readonly opts: { iface?: () => string | undefined; file?: string; lookup?: NeighbourLookup } = {}) {
    this.lookup = opts.lookup ?? (opts.file === undefined ? addonLookup() : undefined);
  }

  neighbourMac(address: string): string | undefined {
    // With an interface set, the kernel is asked for this one entry: every
    // /ipxe request asks, and the whole table is as long as the booting rack.
    // Without one, or without the addon, the table is read and searched.
    const iface = this.opts.iface?.();
    if (iface && this.lookup) {
      if (!isIPv4(address)) return undefined;
      const mac = this.lookup(iface, address);
      return mac === null ? undefined : (normalizeMac(mac) ?? undefined);
    }
    return this.entries().find((e) => e.address === address)?.mac;
  }

  /** The other way round: the address whose entry carries `mac` (a commissioned machine without a lease of ours). */
  addressOf(mac: string): string | undefined {
    return this.entries().find((e) => e.mac === mac)?.address;
  }

  /** The complete entries on the provisioning interface (all of them when none is set); none when the table cannot be read. */
  private entries(): NeighbourEntry[] {
    let text: string;
    try {
      text = readFileSync(this.opts.file ?? '/proc/net/arp', 'utf8');
    } catch {
      return [];
    }
    const iface = this.opts.iface?.();
    return parseArpTable(text).filter((e) => !iface || e.device === iface);
  }
}

/** A neighbour table a test writes: address → MAC. */
export class FakeNeighbours implements RequesterIdentity {
  private readonly entries = new Map<string, string>();

  constructor(entries: Record<string, string> = {}) {
    for (const [address, mac] of Object.entries(entries)) this.set(address, mac);
  }

  set(address: string, mac: string): this {
    this.entries.set(address, normalizeMac(mac) ?? mac);
    return this;
  }

  delete(address: string): this {
    this.entries.delete(address);
    return this;
  }

  neighbourMac(address: string): string | undefined {
    return this.entries.get(address);
  }
}
