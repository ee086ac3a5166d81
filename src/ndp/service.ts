// Answers IPv6 Router Solicitations on the provisioning interface with the
// "no IPv6 here" advertisement from router-advert.ts, and sends one
// unsolicited every `intervalMs`. Only where rackboot owns the network
// (dhcp.mode full) by default: beside a site's own routers it stays quiet.
import type { Logger } from '../log.js';
import { loadInterfaceSockets } from '../net/addon.js';
import { bindListenerSync, listenerAddress } from '../net/listener.js';
import { encodeRouterAdvertisement, isRouterSolicitation, type ManagedLink } from './router-advert.js';

const ALL_NODES = 'ff02::1';

export interface RouterAdvertService {
  name: 'ndp';
  close(): Promise<void>;
  metrics(): { solicitations: number; advertisements: number; sendErrors: number };
}

/** `managed`: rackboot serves DHCPv6 here (dhcpv6.enabled); the advertisement then says so and names the prefix. */
export function startRouterAdvertService(deps: { iface: string; sourceMac?: string; managed?: ManagedLink; log: Logger; pollMs?: number; intervalMs?: number }): RouterAdvertService {
  const addon = loadInterfaceSockets('IPv6 router advertisement');
  const { fd, ifindex } = bindListenerSync('IPv6 router advertisement', listenerAddress('icmpv6', 'ff02::2', undefined, deps.iface), () => addon.openIcmp6(deps.iface));
  const ra = encodeRouterAdvertisement({ sourceMac: deps.sourceMac, managed: deps.managed });
  const counters = { solicitations: 0, advertisements: 0, sendErrors: 0 };
  const advertise = (why: string) => {
    try {
      addon.sendIcmp6(fd, ifindex, ALL_NODES, ra);
      counters.advertisements++;
      deps.log.debug({ why }, 'router advertisement sent');
    } catch (err) {
      // No link-local address yet (link down): the next tick tries again.
      counters.sendErrors++;
      deps.log.debug({ err }, 'router advertisement not sent');
    }
  };
  // The socket is non-blocking and Node cannot watch a raw fd, so poll it:
  // a solicitation waits at most pollMs, well under iPXE's first retry.
  const poll = setInterval(() => {
    let answered = false;
    for (let pkt = addon.recvIcmp6(fd); pkt; pkt = addon.recvIcmp6(fd)) {
      if (!isRouterSolicitation(pkt.data)) continue;
      counters.solicitations++;
      if (!answered) advertise(`solicited by ${pkt.from}`);
      answered = true;
    }
  }, deps.pollMs ?? 50);
  const periodic = setInterval(() => advertise('periodic'), deps.intervalMs ?? 10_000);
  advertise('start');
  deps.log.info({ iface: deps.iface, managed: !!deps.managed }, deps.managed ? 'answering IPv6 router solicitations: addresses by DHCPv6, prefix on-link' : 'answering IPv6 router solicitations: no IPv6 on this link');
  return {
    name: 'ndp',
    metrics: () => ({ ...counters }),
    async close() {
      clearInterval(poll);
      clearInterval(periodic);
      addon.closeFd(fd);
    },
  };
}
