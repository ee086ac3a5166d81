// A node that fetched its UKI and then went silent (branch secureboot).
// UEFI firmware that refuses an image under Secure Boot (EDK2's
// DxeImageVerificationLib: no db entry signed it, or the signature does not
// match the bytes) just moves on to its next boot option: no packet says so.
// So a UKI fetch followed, within the settings' time, by neither the
// kernel's DHCP nor any state change is recorded as a failed boot, with
// Secure Boot named as the likely cause, well before the booting timeout.
import type { StateMachine } from './machine.js';
import type { DhcpMode } from '../settings/settings.js';
import { forgetUkiFetch, pendingUkiFetches } from '../store/uki-fetches.js';
import { formatDuration } from './sweeper.js';

/**
 * The silence that fails a node, by DHCP mode: full and proxy mode both see
 * the booted kernel's DHCP (proxy mode without answering it,
 * Lifecycle.kernelDhcpSeen); with rackboot's DHCP off, silence proves
 * nothing, so 0 (off).
 */
export function ukiSilenceSeconds(dhcpMode: DhcpMode, configured: number): number {
  return dhcpMode === 'off' ? 0 : configured;
}

/** Fails nodes silent for longer than `seconds` after their UKI fetch; returns their names. 0 turns it off. */
export function sweepSilentUkiFetches(machine: StateMachine, seconds: number, now: number): string[] {
  const store = machine.store;
  const failed: string[] = [];
  for (const f of pendingUkiFetches(store)) {
    if (!f.stillBooting) {
      forgetUkiFetch(store, f.node, f.servedAt);
      continue;
    }
    if (!seconds || now - f.servedAt <= seconds * 1000) continue;
    const reason = `fetched its UKI ${f.name} by HTTP boot ${formatDuration(now - f.servedAt)} ago and nothing followed (no DHCP from its kernel, no contact): `
      + 'the firmware likely refused the image. With Secure Boot on, check that the key that signed the UKI (the Image Factory\'s, for its Secure Boot UKI) is enrolled in the firmware\'s db';
    // Another appliance sweeping the same shared row may have ended this wait first: only the one that ends it fails the node,
    // and only from the booting state it read (the node may have moved since).
    if (!forgetUkiFetch(store, f.node, f.servedAt)) continue;
    const r = machine.transition(f.node, 'failed', reason, { failedStep: 'booting', from: 'booting' });
    if (r.ok) failed.push(f.node);
  }
  return failed;
}
