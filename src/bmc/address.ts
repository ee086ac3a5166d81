// Parses a node's `bmc.address`. Pure: the inventory loader turns a thrown
// message into a FILE:LINE:COL error, the BMC clients take the result.
//   ipmi://host[:623]
//   redfish://host[:443][/redfish/v1/Systems/ID]
//   redfish+http://host[:80][/redfish/v1/Systems/ID]
import { isIP } from 'node:net';

export type BmcAddress =
  | { protocol: 'ipmi'; host: string; port: number }
  | { protocol: 'redfish'; tls: boolean; host: string; port: number; systemPath?: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SYSTEM_PATH = /^\/redfish\/v1\/Systems\/[^/?#\s]+$/;

export class BmcAddressError extends Error {}

export function parseBmcAddress(text: string): BmcAddress {
  const m = /^([a-z+]+):\/\/(\[[^\]]*\]|[^/:]*)(?::([^/]*))?(\/.*)?$/.exec(text.trim());
  if (!m) throw new BmcAddressError(`${JSON.stringify(text)} is not ipmi://HOST[:PORT], redfish://HOST[:PORT][/redfish/v1/Systems/ID] or redfish+http://…`);
  const [, scheme, rawHost, rawPort, path] = m as unknown as [string, string, string, string | undefined, string | undefined];
  if (scheme !== 'ipmi' && scheme !== 'redfish' && scheme !== 'redfish+http') {
    throw new BmcAddressError(`unknown BMC protocol ${JSON.stringify(scheme)}: expected ipmi, redfish or redfish+http`);
  }
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (host === '') throw new BmcAddressError(`${JSON.stringify(text)} has no host`);
  if (rawHost.startsWith('[') ? isIP(host) !== 6 : !(isIP(host) === 4 || HOSTNAME.test(host))) {
    throw new BmcAddressError(`${JSON.stringify(host)} is not an IPv4 address, [IPv6] address or host name`);
  }
  const defaultPort = scheme === 'ipmi' ? 623 : scheme === 'redfish' ? 443 : 80;
  let port = defaultPort;
  if (rawPort !== undefined) {
    if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) {
      throw new BmcAddressError(`port ${JSON.stringify(rawPort)} is not a number from 1 to 65535`);
    }
    port = Number(rawPort);
  }
  if (scheme === 'ipmi') {
    if (path !== undefined && path !== '/') throw new BmcAddressError(`an ipmi:// address takes no path (got ${JSON.stringify(path)})`);
    return { protocol: 'ipmi', host, port };
  }
  let systemPath: string | undefined;
  if (path !== undefined && path !== '/') {
    const trimmed = path.replace(/\/$/, '');
    if (!SYSTEM_PATH.test(trimmed)) throw new BmcAddressError(`the path ${JSON.stringify(path)} is not /redfish/v1/Systems/ID`);
    systemPath = trimmed;
  }
  return { protocol: 'redfish', tls: scheme === 'redfish', host, port, ...(systemPath ? { systemPath } : {}) };
}

export function formatBmcAddress(a: BmcAddress): string {
  const host = isIP(a.host) === 6 ? `[${a.host}]` : a.host;
  if (a.protocol === 'ipmi') return `ipmi://${host}:${a.port}`;
  return `${a.tls ? 'redfish' : 'redfish+http'}://${host}:${a.port}${a.systemPath ?? ''}`;
}
