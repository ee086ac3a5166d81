// The daemon's Talos API service: runs orchestrator passes in the background
// once rackboot has an admin identity (DATA_DIR/talosconfig). Push first
// contact also needs a config renderer; without one only the steps after
// install run (bootstrap, health, kubeconfig, reimage).
import { existsSync } from 'node:fs';
import type { Service } from '../daemon.js';
import type { NodeStateWriter, ResetFallback } from '../lifecycle/ports.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { NodeRecord, Store } from '../store/store.js';
import { TalosClient, talosAnswers } from './client.js';
import { storeEndpoints, type EndpointOf } from './endpoints.js';
import { TalosOrchestrator } from './orchestrator.js';
import { loadAdminIdentity, talosconfigPath } from './talosconfig.js';

export const PASS_INTERVAL_MS = 5000;

export interface TalosServiceInput {
  settings: Settings;
  store: Store;
  /** The daemon's one state machine, shared with DHCP, HTTP and the sweeper. */
  states: NodeStateWriter;
  log: Logger;
  renderConfig?: (nodeName: string, chosen?: { installDisk: string }) => Promise<Buffer>;
  /** The BMC fallback for reimages Talos does not take (src/bmc/auto-power.ts). */
  resetFallback?: ResetFallback;
  intervalMs?: number;
}

/**
 * The loop guards' "the node's Talos API reports it is installing": the
 * store has it installing (its config was accepted) and its Talos API still
 * answers, without or with our client certificate. A node that answers is
 * working on it; power-cycling it would cut the install short.
 */
export function talosInstallingProbe(store: Store, dataDir: string, endpointOf: EndpointOf = storeEndpoints(store)): (node: NodeRecord) => Promise<boolean> {
  return async (node) => {
    const ep = endpointOf(node);
    if (node.state !== 'installing' || !ep) return false;
    const policy = { retries: 0, timeoutMs: 3000 };
    const file = talosconfigPath(dataDir);
    return (await talosAnswers(() => TalosClient.maintenance(ep, { policy }), (c) => c.disks())) ||
      (existsSync(file) && (await talosAnswers(() => TalosClient.configured(ep, loadAdminIdentity(file), { policy }), (c) => c.version())));
  };
}

export function startTalosService(input: TalosServiceInput): Service | undefined {
  const file = talosconfigPath(input.settings.dataDir);
  if (!existsSync(file)) {
    input.log.info({ file }, 'Talos API service off: no talosconfig yet');
    return undefined;
  }
  const orchestrator = new TalosOrchestrator({
    store: input.store,
    states: input.states,
    admin: loadAdminIdentity(file),
    endpointOf: storeEndpoints(input.store),
    dataDir: input.settings.dataDir,
    renderConfig: input.renderConfig,
    checkInstallDisk: true,
    pollTimeoutMs: 3000,
    resetFallback: input.resetFallback,
    log: input.log,
  });
  orchestrator.start(input.intervalMs ?? PASS_INTERVAL_MS);
  input.log.info({ push: !!input.renderConfig }, 'Talos API service started');
  return { name: 'talos', close: () => orchestrator.close() };
}
