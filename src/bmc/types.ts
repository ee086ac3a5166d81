// One interface over every way rackboot reaches a server's BMC. Callers
// (CLI today; reimage, stuck-provisioning retry and wave power-on later)
// see power state and a handful of actions, never a protocol.

export type PowerState = 'on' | 'off';
/** on, off (hard), soft (ACPI shutdown request), cycle (off then on; just on when already off). */
export type PowerAction = 'on' | 'off' | 'soft' | 'cycle';
export const POWER_ACTIONS: readonly PowerAction[] = ['on', 'off', 'soft', 'cycle'];
export type BootMode = 'uefi' | 'legacy';

export interface Bmc {
  /** What the operator reads in errors and events, e.g. `ipmi://10.0.0.5:623`. */
  readonly describe: string;
  powerStatus(): Promise<PowerState>;
  power(action: PowerAction): Promise<void>;
  /** Makes the next boot (only) a network boot in the given firmware mode. */
  pxeOnce(mode: BootMode): Promise<void>;
  /** Ends any session held with the BMC (Redfish); a no-op where there is none. */
  close?(): Promise<void>;
}

/**
 * Who was at fault, so an operator knows where to look:
 * network: nothing answered (down, filtered, wrong address, too slow);
 * credentials: the BMC answered and refused the username or password;
 * certificate: a TLS peer answered with a certificate we do not trust;
 * bmc: the BMC understood and refused or failed the request;
 * config: rackboot's own configuration (no password stored, bad address).
 */
export type BmcFault = 'network' | 'credentials' | 'certificate' | 'bmc' | 'config';

export class BmcError extends Error {
  constructor(readonly fault: BmcFault, message: string) {
    super(message);
    this.name = 'BmcError';
  }
}

export const FAULT_LABEL: Record<BmcFault, string> = {
  network: 'network fault (the BMC did not answer)',
  credentials: 'credentials refused by the BMC',
  certificate: 'BMC certificate not trusted',
  bmc: 'the BMC refused or failed the request',
  config: 'rackboot configuration',
};
