// Which interface and address the appliance serves on. Explicit settings
// win; otherwise we pick the only sensible candidate and say so, and refuse
// to guess between several.
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface ProvisioningAddress {
  iface: string;
  address: string;
  netmask: string;
  /** How it was chosen, for the log and `doctor`. */
  how: string;
}

type Ifaces = ReturnType<typeof networkInterfaces>;

function interfaceExists(name: string): boolean {
  return /^[^/\0]{1,15}$/.test(name) && name !== '.' && name !== '..' && existsSync(`/sys/class/net/${name}`);
}

export function resolveProvisioningAddress(
  want: { interface?: string; serverAddress?: string },
  ifaces: Ifaces = networkInterfaces(),
): ProvisioningAddress | { error: string } {
  const v4 = (name: string) => (ifaces[name] ?? []).filter((a) => a.family === 'IPv4');
  if (want.interface) {
    const addrs = v4(want.interface);
    if (!ifaces[want.interface]) {
      // The OS lists only interfaces that are up with carrier; a switch port
      // that comes up after us must not stop the appliance if we know our address.
      if (!interfaceExists(want.interface)) return { error: `interface ${want.interface} does not exist (set "interface" in rackboot.yaml)` };
      if (want.serverAddress) return { iface: want.interface, address: want.serverAddress, netmask: '', how: 'from the settings; the link is down for now' };
      return { error: `interface ${want.interface} is down or has no carrier; bring it up, or set "serverAddress" so rackboot can start before the link does` };
    }
    const chosen = want.serverAddress ? addrs.find((a) => a.address === want.serverAddress) : addrs[0];
    if (!chosen) {
      return { error: want.serverAddress ? `interface ${want.interface} has no address ${want.serverAddress}` : `interface ${want.interface} has no IPv4 address` };
    }
    return { iface: want.interface, address: chosen.address, netmask: chosen.netmask, how: 'from the settings' };
  }
  if (want.serverAddress) {
    for (const name of Object.keys(ifaces)) {
      const a = v4(name).find((x) => x.address === want.serverAddress);
      if (a) return { iface: name, address: a.address, netmask: a.netmask, how: 'interface found by serverAddress' };
    }
    return { error: `no interface has the address ${want.serverAddress}` };
  }
  const candidates = Object.keys(ifaces).flatMap((name) => v4(name).filter((a) => !a.internal).map((a) => ({ name, a })));
  if (candidates.length === 1) {
    const { name, a } = candidates[0]!;
    return { iface: name, address: a.address, netmask: a.netmask, how: 'the only non-loopback IPv4 interface' };
  }
  if (candidates.length === 0) return { error: 'no non-loopback IPv4 interface; set "interface" and "serverAddress" in rackboot.yaml' };
  return { error: `several interfaces could be the provisioning network (${candidates.map((c) => c.name).join(', ')}); set "interface" in rackboot.yaml` };
}
