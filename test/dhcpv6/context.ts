// An in-process DHCPv6 policy context over a real in-memory Store.
import { pino } from 'pino';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { Leases6 } from '../../src/dhcpv6/leases.js';
import { Advertised } from '../../src/dhcpv6/advertised.js';
import { duidLl } from '../../src/dhcpv6/options.js';
import type { V6Context } from '../../src/dhcpv6/policy.js';
import type { Dhcpv6Settings } from '../../src/settings/settings.js';
import { inventoryOf, node } from '../dhcp/context.js';
import { MAC_IPXE, MAC_OVMF } from './fixtures.js';

export const SERVER6 = '2001:db8:7::1';
export const SERVER_MAC = '02:00:00:00:00:01';
export const OVMF_LINK_LOCAL = 'fe80::5054:ff:fe12:3407%rb0';

export interface V6TestContext extends V6Context { store: Store; clock: { t: number } }

export function makeV6Context(over: Partial<Dhcpv6Settings> = {}): V6TestContext {
  const clock = { t: 1_700_000_000_000 };
  const now = () => clock.t;
  const store = new Store(':memory:', { now });
  store.syncInventory(inventoryOf([node('ovmf-6', MAC_OVMF, '10.77.0.17'), node('ipxe-6', MAC_IPXE, '10.77.0.18')]));
  return {
    settings: { enabled: true, prefix: '2001:db8:7::/64', address: SERVER6, pool: { start: '2001:db8:7::1000', end: '2001:db8:7::1003' }, dns: ['2001:db8:7::53'], leaseSeconds: 3600, rapidCommit: true, ...over },
    dhcp: { efiBinary: 'snponly.efi', arm64Binary: 'ipxe-arm64.efi', bootFileForInstalled: true },
    lifecycle: new Lifecycle(store), leases: new Leases6(store.db, now), advertised: new Advertised(now),
    serverDuid: duidLl(SERVER_MAC), httpUrl: `http://[${SERVER6}]:8080`, inTftpRoot: (f) => f === 'snponly.efi',
    log: pino({ level: 'silent' }), store, clock,
  };
}
