// Builds the Bmc for a node from its inventory entry and stored password.
import type { NodeBmcSpec } from '../inventory/types.js';
import { parseBmcAddress } from './address.js';
import { passwordPath, readPassword } from './credentials.js';
import { IpmiBmc, type IpmiOptions } from './ipmi.js';
import { RedfishBmc } from './redfish.js';
import type { Bmc } from './types.js';

export interface BmcConnectOptions {
  dataDir: string;
  /** Per-call limit; a BMC that stops answering must not stall the caller for long. */
  timeoutMs?: number;
}

export function bmcFor(node: string, spec: NodeBmcSpec, opts: BmcConnectOptions): Bmc {
  const address = parseBmcAddress(spec.address);
  const password = readPassword(passwordPath(opts.dataDir, node, spec.passwordFile), node);
  if (address.protocol === 'ipmi') return new IpmiBmc(ipmiOptions(address, spec, password, opts));
  return new RedfishBmc({
    host: address.host, port: address.port, tls: address.tls, systemPath: address.systemPath,
    username: spec.username, password, fingerprint: spec.tlsFingerprint, timeoutMs: opts.timeoutMs ?? 20_000,
  });
}

/** ipmitool's options for a node whose BMC speaks IPMI (for Serial-over-LAN); undefined for Redfish. Throws as bmcFor does for a missing password. */
export function ipmiOptionsFor(node: string, spec: NodeBmcSpec, opts: BmcConnectOptions): IpmiOptions | undefined {
  const address = parseBmcAddress(spec.address);
  if (address.protocol !== 'ipmi') return undefined;
  return ipmiOptions(address, spec, readPassword(passwordPath(opts.dataDir, node, spec.passwordFile), node), opts);
}

function ipmiOptions(address: { host: string; port: number }, spec: NodeBmcSpec, password: string, opts: BmcConnectOptions): IpmiOptions {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  // ipmitool's own retries fit inside the whole-call limit.
  const retrySeconds = Math.max(1, Math.floor(timeoutMs / 4000));
  return { host: address.host, port: address.port, username: spec.username, password, retrySeconds, retries: 3, timeoutMs, cipherSuite: spec.ipmiCipherSuite };
}
