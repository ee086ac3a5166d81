// Builds the Bmc for a node from its inventory entry and stored password.
import type { NodeBmcSpec } from '../inventory/types.js';
import { parseBmcAddress } from './address.js';
import { passwordPath, readPassword } from './credentials.js';
import { IpmiBmc } from './ipmi.js';
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
  if (address.protocol === 'ipmi') {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    // ipmitool's own retries fit inside the whole-call limit.
    const retrySeconds = Math.max(1, Math.floor(timeoutMs / 4000));
    return new IpmiBmc({ host: address.host, port: address.port, username: spec.username, password, retrySeconds, retries: 3, timeoutMs, cipherSuite: spec.ipmiCipherSuite });
  }
  return new RedfishBmc({
    host: address.host, port: address.port, tls: address.tls, systemPath: address.systemPath,
    username: spec.username, password, fingerprint: spec.tlsFingerprint, timeoutMs: opts.timeoutMs ?? 20_000,
  });
}
