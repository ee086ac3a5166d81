// The daemon's day-2 wiring: plan and apply for the page's API, and the
// auto-apply after inventory reloads. The admin identity is read from
// DATA_DIR/talosconfig when needed, so a daemon started before
// `rackboot talosconfig` picks it up later.
import { existsSync } from 'node:fs';
import type { Inventory } from '../inventory/types.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { loadSecrets } from '../talos/secrets.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { AutoApply } from './auto-apply.js';
import { quorumHealthGate, quorumRebootGate, storeControlPlanes, type QuorumGateDeps } from './config-gates.js';
import { planNode, type NodePlan } from './plan.js';
import { ConfigRollout, type ApplyOutcome } from './config-rollout.js';
import { inventoryDesiredState, talosConfigPort } from './talos-port.js';
import { resolvedInstallDisk } from '../talos/config/node-config.js';

export interface Day2Input {
  settings: Settings;
  store: Store;
  inventory: () => Inventory | undefined;
  publicUrl: () => string;
  log: Logger;
  /** Tests point these elsewhere; the daemon uses the store's node addresses and the talosconfig. */
  endpointOf?: QuorumGateDeps['endpointOf'];
  gateTimeoutMs?: number;
}

export class Day2Unavailable extends Error {}

export class Day2Service {
  readonly autoApply: AutoApply;

  constructor(private readonly input: Day2Input) {
    this.autoApply = new AutoApply({
      mode: () => input.settings.day2.autoApply,
      rollout: () => (existsSync(talosconfigPath(input.settings.dataDir)) ? this.rollout('auto-apply') : undefined),
      log: input.log,
    });
  }

  private wiring() {
    const file = talosconfigPath(this.input.settings.dataDir);
    if (!existsSync(file)) throw new Day2Unavailable(`no talosconfig at ${file} yet; run rackboot talosconfig`);
    const admin = loadAdminIdentity(file);
    const endpointOf = this.input.endpointOf ?? storeEndpoints(this.input.store);
    const connect = (ep: string) => TalosClient.configured(ep, admin, { policy: { retries: 1 } });
    const desired = inventoryDesiredState({
      inventory: this.input.inventory, secrets: () => loadSecrets(this.input.settings.dataDir), settings: () => this.input.settings,
      publicUrl: this.input.publicUrl, installDiskOf: resolvedInstallDisk(this.input.store),
    });
    return { endpointOf, connect, desired, port: talosConfigPort(connect, endpointOf) };
  }

  rollout(actor: string): ConfigRollout {
    const w = this.wiring();
    // A one-member etcd is refused here (as `rackboot upgrade` does without --allow-single-etcd): the page has no such switch.
    const gates: QuorumGateDeps = {
      connect: w.connect, endpointOf: w.endpointOf, controlPlanes: storeControlPlanes(this.input.store, w.endpointOf),
      timeoutMs: this.input.gateTimeoutMs, intervalMs: 2000,
    };
    return new ConfigRollout({
      store: this.input.store, desired: w.desired, port: w.port, gate: quorumHealthGate(gates), beforeReboot: quorumRebootGate(gates), actor, log: this.input.log,
    });
  }

  async plan(name: string): Promise<NodePlan> {
    const node = this.input.store.getNode(name);
    if (!node) throw new Day2Unavailable(`no such node: ${name}`);
    const w = this.wiring();
    return planNode({ store: this.input.store, desired: w.desired, port: w.port }, node);
  }

  async apply(name: string, actor: string): Promise<ApplyOutcome[]> {
    return this.rollout(actor).run([name]);
  }

  close(): Promise<void> {
    return this.autoApply.close();
  }
}
