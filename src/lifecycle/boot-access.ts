// Who may have a node's boot script and its machine config. The one place
// that decides; the /ipxe and /config routes ask here and act on the answer.
//
// A requester is the machine when the provisioning network says so: in
// DHCP `full` mode it holds the address our lease table gives the MAC; in
// `proxy` and `off` modes the kernel's neighbour entry for its address
// carries the MAC. In every mode a neighbour entry showing another MAC
// refuses. A routed requester (no neighbour entry) cannot be tied to a MAC
// without our leases: it gets no script, and gets a config only with the
// per-boot token that the install script served to the verified machine
// carries. The token is spent by the first config fetch, so a config goes
// out at most once per PXE boot. Every refusal is an event with its reason.
import { boundLeaseAddress } from '../store/bound-lease.js';
import type { BootTokenStore } from '../store/boot-tokens.js';
import { bootTokensOf } from '../store/pg/pg-boot-tokens.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { RequesterIdentity } from '../net/neighbours.js';
import type { DhcpMode } from '../settings/settings.js';
import type { Lifecycle } from './lifecycle.js';

export type Identification =
  | { ok: true; how: 'lease' | 'neighbour' | 'routed' }
  | { ok: false; reason: string };

export interface BootAccessDeps {
  store: Store;
  lifecycle: Lifecycle;
  /** Read per request: the settings may be reloaded. */
  dhcpMode: () => DhcpMode;
  identity: () => RequesterIdentity;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** An IPv4 peer may show up as ::ffff:a.b.c.d on a dual-stack socket. */
export function peerAddress(ip: string): string {
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

export class BootAccess {
  /** Shared with scaleOut.postgres: the script and the config of one boot may come from two appliances. */
  private readonly tokens: BootTokenStore;

  constructor(private readonly d: BootAccessDeps) {
    this.tokens = bootTokensOf(d.store);
  }

  /** Whether the peer at `from` is `node`'s machine, as far as the provisioning network can tell. */
  identify(node: NodeRecord, from: string): Identification {
    // A multi-NIC node (inventory macs) is its machine through any of its NICs.
    const macs = node.spec.macs?.length ? node.spec.macs : [node.mac];
    const named = macs.join(' or ');
    const seen = this.d.identity().neighbourMac(from);
    if (seen && !macs.includes(seen)) return { ok: false, reason: `request from ${from}, whose neighbour entry carries ${seen}, not ${node.name}'s ${named}` };
    if (this.d.dhcpMode() === 'full') {
      const leases = macs.flatMap((m) => {
        const ip = boundLeaseAddress(this.d.store.db, m);
        return ip ? [{ mac: m, ip }] : [];
      });
      if (leases.length === 0) return { ok: false, reason: `node ${node.name} (${named}) holds no bound lease` };
      if (!leases.some((l) => l.ip === from)) return { ok: false, reason: `request from ${from}, but ${leases.map((l) => `${l.mac} is leased ${l.ip}`).join(', ')}` };
      return { ok: true, how: 'lease' };
    }
    return { ok: true, how: seen ? 'neighbour' : 'routed' };
  }

  /**
   * /ipxe for an inventory node: the reason `from` may not have its script
   * (nor move its state), or undefined when it is the machine.
   */
  scriptRefusal(node: NodeRecord, from: string): string | undefined {
    const id = this.identify(node, from);
    const why = !id.ok
      ? id.reason
      : id.how === 'routed'
        ? `request from ${from}: no neighbour entry shows ${node.mac} there, and without leases of ours (DHCP mode ${this.d.dhcpMode()}) a routed address cannot be tied to ${node.name}`
        : undefined;
    if (why) this.record(node, 'http', `iPXE script refused: ${why}`);
    return why;
  }

  /** A fresh token for the install script just being served to the verified machine. */
  issueToken(node: NodeRecord, from: string): string {
    return this.tokens.issue(node, from);
  }

  /**
   * /config: the reason `from` may not have `node`'s config now, or
   * undefined when it may (then render, and spend() before sending).
   */
  configRefusal(node: NodeRecord, from: string, q: { uuid?: string; token?: string }): string | undefined {
    const why = this.configProblem(node, from, q);
    if (why) this.record(node, 'config', `machine config refused: ${why}`);
    return why;
  }

  /** Spends the token; false (and an event) when another fetch spent it first. */
  spend(node: NodeRecord, token: string, from: string): boolean {
    if (this.tokens.spend(node, token, from)) return true;
    this.record(node, 'config', `machine config refused: node ${node.name}: the config for this boot was already served; a new fetch needs a new PXE boot`);
    return false;
  }

  private configProblem(node: NodeRecord, from: string, q: { uuid?: string; token?: string }): string | undefined {
    if (!this.d.lifecycle.inProvisioningWindow(node)) {
      return `node ${node.name} is outside its provisioning window (state ${node.state}, ${node.markedForInstall ? 'marked' : 'not marked'} for install)`;
    }
    if (node.spec.configMode !== 'pull') return `node ${node.name} is in push mode: its config goes over the maintenance API, never over /config`;
    if (q.uuid && q.uuid !== ZERO_UUID && node.uuid && q.uuid !== node.uuid) return `node ${node.name}: uuid ${q.uuid} does not match the inventory's ${node.uuid}`;
    const id = this.identify(node, from);
    if (!id.ok) return id.reason;
    if (!q.token) return `node ${node.name}: no boot token (the talos.config= URL of this boot's install script carries one)`;
    const t = this.tokens.check(node, q.token);
    if (t.ok) return undefined;
    switch (t.why) {
      case 'none-issued':
        return `node ${node.name}: no boot token was issued for its current MAC (it was never sent an install script)`;
      case 'mismatch':
        return `node ${node.name}: the boot token is not the one issued for its current boot (issued to ${t.record!.issuedTo})`;
      case 'spent':
        return `node ${node.name}: the config for this boot was already served to ${t.record!.servedTo}; a new fetch needs a new PXE boot`;
    }
  }

  private record(node: NodeRecord, kind: string, message: string): void {
    this.d.store.appendEvent({ node: node.name, mac: node.mac, kind, message });
  }
}
