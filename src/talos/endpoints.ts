// Where a node's Talos API is: the inventory's fixed address if it has one,
// else the address our DHCP leased to its MAC.
import type { NodeRecord, Store } from '../store/store.js';
import { boundLeaseAddress } from '../store/bound-lease.js';
import { TALOS_API_PORT } from './client.js';

export type EndpointOf = (node: NodeRecord) => string | undefined;

export function storeEndpoints(store: Store, port = TALOS_API_PORT): EndpointOf {
  return (node) => {
    const ip = node.ip ?? boundLeaseAddress(store.db, node.mac);
    if (!ip) return undefined;
    return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  };
}
