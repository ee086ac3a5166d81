// IPv6 netboot on the provisioning interface (dhcpv6.enabled): DHCPv6, a
// TFTP listener on our IPv6 address for tftp://[addr]/ boot file URLs, and
// router advertisements with the managed flag and the on-link prefix.
import { networkInterfaces } from 'node:os';
import type { Logger } from '../log.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import { startRouterAdvertService } from '../ndp/service.js';
import { startTftpService } from '../tftp/server.js';
import type { VirtualFiles } from '../tftp/files.js';
import { parsePrefix } from './ipv6.js';
import { startDhcpv6Service } from './service.js';
import type { PgDhcpSegment } from '../store/pg/dhcp-segment.js';

export async function startIpv6Netboot(deps: {
  settings: Settings; store: Store; lifecycle: Lifecycle; log: Logger; iface: string; httpPort: number; virtualFiles: VirtualFiles;
  /** DHCPv4's segment lock (scaleOut.postgres): one appliance answers both families on a segment. */
  segment?: PgDhcpSegment;
}): Promise<Array<{ name: string; close(): Promise<void>; metrics?(): unknown }>> {
  const { settings, log } = deps;
  const d6 = settings.dhcpv6;
  const mac = networkInterfaces()[deps.iface]?.find((a) => a.mac !== '00:00:00:00:00:00')?.mac;
  if (!mac) throw new Error(`dhcpv6: interface ${deps.iface} has no MAC address (needed for the server DUID)`);
  const started: Array<{ name: string; close(): Promise<void>; metrics?(): unknown }> = [];
  try {
    if (settings.tftp.enabled) {
      const tftp6 = await startTftpService({ settings, store: deps.store, log: log.child({ svc: 'tftp6' }), host: d6.address!, virtualFiles: deps.virtualFiles });
      // Its own name: /metrics then has rackboot_tftp6_* beside IPv4's rackboot_tftp_*, never the same series twice.
      started.push({ name: 'tftp6', close: () => tftp6.close(), metrics: () => tftp6.metrics() });
    }
    started.push(await startDhcpv6Service({ settings, store: deps.store, lifecycle: deps.lifecycle, log: log.child({ svc: 'dhcpv6' }), iface: deps.iface, mac, httpPort: deps.httpPort, segment: deps.segment }));
    const prefix = parsePrefix(d6.prefix!)!;
    started.push(startRouterAdvertService({
      iface: deps.iface, sourceMac: mac, log: log.child({ svc: 'ndp' }),
      managed: { prefix: prefix.base, length: prefix.length, lifetimeSeconds: d6.leaseSeconds },
    }));
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
  return started;
}
