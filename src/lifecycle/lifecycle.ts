// Node lifecycle: turns what the services observe (a PXE request, a served
// script, a Talos API answer) into persisted state changes through the one
// state machine. Services call these methods and act only on what they
// return, after the store has committed it.
import type { Logger } from '../log.js';
import type { Store, NodeRecord, Sighting } from '../store/store.js';
import { bootActionFor, type BootAction } from './boot.js';
import { StateMachine, type Observation, type TransitionResult } from './machine.js';
import { PROVISIONING_STATES } from './states.js';
import { anyUkiFetchPending, forgetUkiFetch } from '../store/uki-fetches.js';
import { LogTally } from '../log-tally.js';
import { storableText } from '../store/client-text.js';

/** How often, at most, a store that refuses sightings is said so in the log. */
const REFUSAL_LOG_MS = 10_000;

/**
 * While sightings keep coming, at most one sighting commit per this many
 * ms. Under perfdhcp at 2,000 DORA/s (every client an unknown MAC) the
 * commit per turn was a quarter of the event loop's time, more than the
 * lease commits themselves: each one wrote the same discovered and event
 * pages again (CPU profile, bench/HISTORY.md, round 21). A quiet daemon's
 * first sighting is still written on the next turn. Only on a store where
 * gathered writes pay (Store.gatheredWritesPay); elsewhere one commit per turn.
 */
export const SIGHTING_COMMIT_GAP_MS = 25;

/** A sighting as the stores keep it: its client-chosen classes as storableText. */
function storableSighting(s: Sighting): Sighting {
  const [vendorClass, userClass] = [storableText(s.vendorClass), storableText(s.userClass)];
  return vendorClass === s.vendorClass && userClass === s.userClass ? s : { ...s, vendorClass, userClass };
}

export class Lifecycle {
  readonly machine: StateMachine;
  private readonly log: Logger | undefined;
  /** Whether sighted() leaves its write for after the turn: then a DHCP DISCOVER writes nothing while it is answered. */
  readonly sightingsLater: boolean;
  private unwritten: Array<{ s: Sighting; action: BootAction }> = [];
  private readonly sightingGapMs: number;
  private lastSightingCommit = -Infinity;
  private readonly refusals = new LogTally(() => ({ lost: 0 }), REFUSAL_LOG_MS);

  /**
   * With `sightingsLater`, sighted() writes its record after the current
   * turn of the event loop (writeSightings), so the reply that the sighting
   * came with is sent first: see sighted(); and no sooner than
   * `sightingGapMs` after the previous such write (by default
   * SIGHTING_COMMIT_GAP_MS where the store's gathered writes pay, else 0).
   */
  constructor(
    readonly store: Store,
    opts: { log?: Logger; sightingsLater?: boolean; sightingGapMs?: number } = {},
  ) {
    this.machine = new StateMachine(store, opts.log);
    this.log = opts.log;
    this.sightingsLater = opts.sightingsLater ?? false;
    this.sightingGapMs = opts.sightingGapMs ?? (store.gatheredWritesPay ? SIGHTING_COMMIT_GAP_MS : 0);
  }

  /** What the machine with this MAC gets if it network-boots now. */
  bootActionForMac(mac: string): BootAction {
    return bootActionFor(this.store.nodeByMac(mac));
  }

  /**
   * A machine was seen by DHCP, TFTP or HTTP: records it (as discovered when
   * unknown) and returns what it gets. Changes no state: DHCP also sees
   * Talos's own requests, which say nothing about where the node is.
   */
  sighted(seen: Sighting): BootAction {
    const s = storableSighting(seen);
    const action = this.bootActionForMac(s.mac);
    if (!this.sightingsLater) {
      // What is written here only records a sighting: no disk flush (Store.withoutFlush).
      this.store.withoutFlush(() => this.recordSighting(s, action));
      return action;
    }
    // The record is written after this turn, in one transaction with the
    // turn's other sightings: a DISCOVER from an unknown machine cost its
    // OFFER a discovered row, an event and a commit before it could be
    // sent (issue 19, DHCP p99). Nothing answered now depends on it.
    if (this.unwritten.push({ s, action }) === 1) {
      const wait = this.lastSightingCommit + this.sightingGapMs - performance.now();
      if (wait > 0) setTimeout(() => this.writeSightings(), wait);
      else setImmediate(() => this.writeSightings());
    }
    return action;
  }

  /**
   * Writes the sightings that sighted() left for later (the daemon calls it
   * once more before the store closes). A store that refuses the write
   * loses them, as it loses a sighting written at once: what a machine
   * asked for is answered all the same.
   */
  writeSightings(): void {
    const batch = this.unwritten.splice(0);
    if (batch.length === 0) return;
    this.lastSightingCommit = performance.now();
    try {
      this.store.withoutFlush(() => {
        for (const { s, action } of batch) this.recordSighting(s, action);
      });
    } catch (err) {
      const since = this.refusals.add({ lost: batch.length });
      if (since) this.log?.warn({ err, ...since }, 'sightings not recorded: the store refused the write');
    }
  }

  private recordSighting(s: Sighting, action: BootAction): void {
    if (action.kind === 'unknown') {
      // One event per machine, not per packet: the discovered list keeps the count and the last sighting.
      if (this.store.recordDiscovered(s)) {
        this.store.appendEvent({ mac: s.mac, kind: s.source, message: `unknown machine ${s.mac} asked to boot`, data: s });
      }
    } else {
      this.store.touch(action.node.name);
      // DHCP from something other than boot firmware is the booted kernel: a UKI it fetched ran (uki-watch.ts).
      if (s.source === 'dhcp' && !/^(PXEClient|HTTPClient)/.test(s.vendorClass ?? '')) forgetUkiFetch(this.store, action.node.name);
    }
  }

  /**
   * Proxy mode: DHCP that rackboot does not answer (not boot firmware) from
   * an inventory MAC. It records nothing, but it is the booted kernel, so a
   * UKI the node fetched ran (uki-watch.ts). It reaches us by the same path
   * as the firmware's DISCOVER that got the UKI's URL (the segment's
   * broadcast, or a relay that forwards to us too).
   */
  kernelDhcpSeen(mac: string): void {
    if (!anyUkiFetchPending(this.store)) return;
    const action = this.bootActionForMac(mac);
    if (action.kind !== 'unknown') forgetUkiFetch(this.store, action.node.name);
  }

  /**
   * iPXE asked for this machine's script. Only iPXE asks, so this is a real
   * network boot: a node that was configuring or installing has finished its
   * install (Talos reboots only after installing) and now boots from disk.
   */
  scriptRequested(s: Sighting): BootAction {
    const action = this.sighted(s);
    if (action.kind !== 'install') return action;
    const { node } = action;
    if (node.state === 'configuring' || node.state === 'installing') {
      const r = this.machine.transition(node.name, 'installed', `network boot after ${node.state}: Talos rebooted from its install`, { markedForInstall: false });
      if (r.ok) return bootActionFor(r.node);
    }
    return action;
  }

  /** The node was handed the Talos kernel: it is booting into maintenance mode. */
  installBootServed(node: NodeRecord, detail: string): NodeRecord {
    if (!node.markedForInstall) throw new Error(`refusing install boot for ${node.name}: not marked for install`);
    if (node.state === 'booting') {
      this.store.appendEvent({ node: node.name, mac: node.mac, kind: 'http', message: detail });
      return node;
    }
    const r = this.machine.transition(node.name, 'booting', detail);
    return r.node ?? node;
  }

  localBootServed(node: NodeRecord, detail: string): void {
    this.store.appendEvent({ node: node.name, mac: node.mac, kind: 'http', message: detail });
  }

  /** A Talos API or config-endpoint observation about a node. */
  observe(name: string, obs: Observation): TransitionResult {
    return this.machine.observe(name, obs);
  }

  /** Install finished: from now on the node boots from disk until it is marked again. */
  markInstalled(name: string, reason: string): NodeRecord {
    const r = this.machine.observe(name, { kind: 'install-finished', detail: reason });
    if (!r.ok) throw new Error(r.error);
    return r.node;
  }

  /** True while the node may fetch its machine config. */
  inProvisioningWindow(node: NodeRecord): boolean {
    return node.inInventory && node.markedForInstall && PROVISIONING_STATES.includes(node.state);
  }
}
