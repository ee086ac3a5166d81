// Where a node's Talos API is: the inventory's fixed address if it has one,
// else the address our DHCP leased to its MAC.
import type { NodeRecord, Store } from '../store/store.js';
import { boundLeaseAddress } from '../store/bound-lease.js';
import { TALOS_API_PORT, type TalosClient } from './client.js';

export type EndpointOf = (node: NodeRecord) => string | undefined;
export type ConnectTalos = (endpoint: string) => TalosClient;

export function storeEndpoints(store: Store, port = TALOS_API_PORT): EndpointOf {
  return (node) => {
    const ip = node.ip ?? boundLeaseAddress(store.db, node.mac);
    if (!ip) return undefined;
    return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  };
}

/** Thrown by withTalosClient when the node has no address, with the caller's words for it. */
export class NoAddressError extends Error {
  override name = 'NoAddressError';
}

/**
 * One conversation with a node: connects to `endpoint`, runs `fn`, closes the
 * client whatever `fn` did. An undefined endpoint throws NoAddressError(noAddress)
 * without connecting.
 */
export async function withTalosClient<T>(connect: ConnectTalos, endpoint: string | undefined, noAddress: string, fn: (c: TalosClient) => Promise<T>): Promise<T> {
  if (!endpoint) throw new NoAddressError(noAddress);
  const c = connect(endpoint);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
