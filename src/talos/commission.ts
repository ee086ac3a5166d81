// Commissioning (discovery.commission): reads the hardware facts of unknown
// machines that were served the Talos kernel with no config
// (src/http/boot/commission-ipxe.ts). This module only reads: its one call
// into Talos is readHardwareFacts (the resource API's List), over a client
// without a certificate. It sends no config, no Reset, no Upgrade, so a
// commissioned machine is never installed or wiped, and it never creates a
// node: the operator adopts the machine by pasting the snippet.
import type { Logger } from '../log.js';
import type { NodeRecord, Store } from '../store/store.js';
import { commissionBmcNode } from '../lifecycle/commission-bmc.js';
import { commissionsToRead, recordCommissionError, recordCommissionFacts } from '../store/discovered-hardware.js';
import { TalosClient, TALOS_API_PORT } from './client.js';
import { factsSummary } from './hardware-collect.js';
import { readHardwareFacts } from './hardware.js';

export interface CommissionerDeps {
  store: Store;
  /** Where the machine with this MAC is now: our bound lease for it, else the neighbour entry carrying it. */
  addressOf: (mac: string) => string | undefined;
  port?: number;
  /** How long after its commissioning boot a machine is still asked (a machine that never came up stops being tried). */
  windowMs?: number;
  timeoutMs?: number;
  /** Powers a machine off through its BMC (src/bmc/operate.ts); without it nothing is powered off. */
  powerOff?: (node: NodeRecord) => Promise<{ ok: boolean; message: string }>;
  now?: () => number;
  log?: Logger;
}

export const COMMISSION_WINDOW_MS = 30 * 60_000;

export class Commissioner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private closed = false;
  private readonly clients = new Set<TalosClient>();

  constructor(private readonly d: CommissionerDeps) {}

  /** One look at every machine booting for commissioning; returns the MACs whose facts were read. */
  async pass(): Promise<string[]> {
    const now = (this.d.now ?? Date.now)();
    const read: string[] = [];
    for (const c of commissionsToRead(this.d.store, now - (this.d.windowMs ?? COMMISSION_WINDOW_MS))) {
      if (this.closed) break;
      const ip = this.d.addressOf(c.mac);
      if (!ip) {
        recordCommissionError(this.d.store, c.mac, null, 'no address known yet: no bound lease and no neighbour entry carries this MAC');
        continue;
      }
      const endpoint = ip.includes(':') ? `[${ip}]:${this.d.port ?? TALOS_API_PORT}` : `${ip}:${this.d.port ?? TALOS_API_PORT}`;
      if (await this.readOne(c.mac, endpoint)) read.push(c.mac);
    }
    return read;
  }

  private async readOne(mac: string, endpoint: string): Promise<boolean> {
    let client: TalosClient | undefined;
    try {
      client = await TalosClient.maintenance(endpoint, { policy: { retries: 0, timeoutMs: this.d.timeoutMs ?? 3000 } });
      this.clients.add(client);
      const facts = await readHardwareFacts(client);
      const at = (this.d.now ?? Date.now)();
      recordCommissionFacts(this.d.store, mac, endpoint, facts, at);
      this.d.store.appendEvent({ mac, kind: 'talos', message: `commissioning ${mac}: hardware facts read at ${endpoint}: ${factsSummary(facts)}` });
      await this.powerOffAfterRead(mac, facts);
      return true;
    } catch (err) {
      // Still booting, or not Talos at that address: asked again next pass, within the window.
      recordCommissionError(this.d.store, mac, endpoint, (err as Error).message);
      return false;
    } finally {
      if (client) (client.close(), this.clients.delete(client));
    }
  }

  /** With a BMC tied to the machine by its SMBIOS UUID (commission-bmc.ts), off; otherwise it waits in maintenance. */
  private async powerOffAfterRead(mac: string, facts: Parameters<typeof commissionBmcNode>[1]): Promise<void> {
    const node = this.d.powerOff ? commissionBmcNode(this.d.store.listNodes(), facts) : undefined;
    if (!node || !this.d.powerOff) {
      this.d.store.appendEvent({ mac, kind: 'talos', message: `commissioning ${mac}: no BMC is known for this machine; it stays in maintenance mode until adopted into the inventory` });
      return;
    }
    const r = await this.d.powerOff(node).catch((err: Error) => ({ ok: false, message: err.message }));
    this.d.store.appendEvent({ mac, kind: 'talos', message: `commissioning ${mac}: SMBIOS UUID ${facts.system?.uuid} is ${node.name}'s; power off through its BMC: ${r.ok ? 'done' : `failed: ${r.message}`}` });
  }

  start(intervalMs: number): void {
    const tick = () => {
      if (this.closed) return;
      this.running = this.pass()
        .catch((err) => this.d.log?.error({ err: (err as Error).message }, 'commissioning pass failed'))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.clients) c.close();
    await this.running;
  }
}
