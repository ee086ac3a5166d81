// Node lifecycle: turns what the services observe (a PXE request, a served
// script, a Talos API answer) into persisted state changes. Services call
// these methods and act only on what they return, after the store has
// committed it.
import type { Store, NodeRecord, Sighting } from '../store/store.js';
import { bootActionFor, type BootAction } from './boot.js';
import { PROVISIONING_STATES } from './states.js';

export class Lifecycle {
  constructor(private readonly store: Store) {}

  /** What the machine with this MAC gets if it network-boots now. */
  bootActionForMac(mac: string): BootAction {
    return bootActionFor(this.store.nodeByMac(mac));
  }

  /** A machine asked for its boot script or boot file; records it, and the sighting for unknown MACs. */
  sighted(s: Sighting): BootAction {
    const action = this.bootActionForMac(s.mac);
    if (action.kind === 'unknown') {
      this.store.recordDiscovered(s);
      this.store.appendEvent({ mac: s.mac, kind: s.source, message: `unknown machine ${s.mac} asked to boot`, data: s });
    } else {
      this.store.touch(action.node.name);
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
    return this.store.setState(node.name, 'booting', detail);
  }

  localBootServed(node: NodeRecord, detail: string): void {
    this.store.appendEvent({ node: node.name, mac: node.mac, kind: 'http', message: detail });
  }

  /** Install finished: from now on the node boots from disk until it is marked again. */
  markInstalled(name: string, reason: string): NodeRecord {
    return this.store.setState(name, 'installed', reason, { markedForInstall: false });
  }

  /** True while the node may fetch its machine config. */
  inProvisioningWindow(node: NodeRecord): boolean {
    return node.inInventory && node.markedForInstall && PROVISIONING_STATES.includes(node.state);
  }
}
