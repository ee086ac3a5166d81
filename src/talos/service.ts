// The daemon's Talos API service: runs orchestrator passes in the background
// once rackboot has an admin identity (DATA_DIR/talosconfig). Push first
// contact also needs a config renderer; without one only the steps after
// install run (bootstrap, health, kubeconfig, reimage).
import { existsSync, statSync } from 'node:fs';
import type { Service } from '../daemon.js';
import type { NodeStateWriter, ResetFallback } from '../lifecycle/ports.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { NodeRecord, Store } from '../store/store.js';
import { TalosClient, talosAnswers } from './client.js';
import { storeEndpoints, type EndpointOf } from './endpoints.js';
import { TalosOrchestrator } from './orchestrator.js';
import { PgCoordination } from '../store/pg/coordination.js';
import type { LeadershipStats } from './leadership.js';
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

/** What the daemon's Talos service is doing, as the page, /api/cluster and `doctor` show it. */
export interface TalosServiceState {
  state: 'waiting' | 'running' | 'failed' | 'stopped';
  detail: string;
  /** Epoch ms of the last change. */
  since: number;
  /** The daemon's process, so a reader can tell a record left by a killed daemon. */
  pid: number;
}

/** The store key the daemon keeps its Talos service state under, for `doctor` in another process. */
export const TALOS_SERVICE_KEY = 'talos-service';

export interface TalosService extends Service {
  state(): TalosServiceState;
  /** With scaleOut.postgres: this instance's leadership (not leading before the talosconfig is there); undefined on a single box. */
  leadership(): LeadershipStats | undefined;
  // branch pg-rollouts: the rollout service runs shared rollouts only while this instance leads, claimed with this session.
  /** With scaleOut.postgres, once started: the coordination (leader lock and session); undefined otherwise. */
  coordination(): PgCoordination | undefined;
}

/** The state a daemon last recorded (for `doctor` and views without a live daemon); undefined if none ever ran. */
export function recordedTalosServiceState(store: Pick<Store, 'getClusterState'>): TalosServiceState | undefined {
  const raw = store.getClusterState(TALOS_SERVICE_KEY);
  return raw ? (JSON.parse(raw) as TalosServiceState) : undefined;
}

/** How often the service looks for a talosconfig that is not there yet. */
export const TALOSCONFIG_POLL_MS = 1000;

/**
 * Starts the orchestrator now if DATA_DIR/talosconfig exists, otherwise as
 * soon as it appears: the Quick start runs `serve` before `init` and
 * `talosconfig`, and a daemon that only looked once would never push,
 * bootstrap or reset anything. A file that does not load (half written,
 * wrong shape) is reported and tried again on its next change.
 */
export function startTalosService(input: TalosServiceInput & { watchIntervalMs?: number }): TalosService {
  const file = talosconfigPath(input.settings.dataDir);
  let orchestrator: TalosOrchestrator | undefined;
  let coordination: PgCoordination | undefined;
  let closed = false;
  let current: TalosServiceState | undefined;
  const set = (state: TalosServiceState['state'], detail: string) => {
    current = { state, detail, since: Date.now(), pid: process.pid };
    try {
      input.store.setClusterState(TALOS_SERVICE_KEY, JSON.stringify(current));
    } catch {
      // The store is closing with the daemon: the state in memory is still right.
    }
  };
  const tryStart = (): boolean => {
    if (closed || orchestrator) return true;
    if (!existsSync(file)) return false;
    let admin;
    try {
      admin = loadAdminIdentity(file);
    } catch (err) {
      input.log.error({ file, err: (err as Error).message }, 'Talos API service: talosconfig does not load; trying again when it changes');
      set('failed', `${file} does not load: ${(err as Error).message}`);
      return false;
    }
    // Several appliances on one PostgreSQL: only the one holding the lock runs the Talos steps.
    const conninfo = input.settings.scaleOut?.postgres;
    coordination = conninfo ? new PgCoordination({ conninfo, local: input.store, log: input.log }) : undefined;
    orchestrator = new TalosOrchestrator({
      leadership: coordination,
      clusterState: coordination,
      store: input.store,
      states: input.states,
      admin,
      endpointOf: storeEndpoints(input.store),
      dataDir: input.settings.dataDir,
      renderConfig: input.renderConfig,
      checkInstallDisk: true,
      pollTimeoutMs: 3000,
      resetFallback: input.resetFallback,
      log: input.log,
    });
    orchestrator.start(input.intervalMs ?? PASS_INTERVAL_MS);
    const shared = coordination ? ' (leader only: shared through PostgreSQL)' : '';
    set('running', (input.renderConfig ? 'push, bootstrap, health and reimage' : 'bootstrap, health and reimage (no config renderer: no push)') + shared);
    input.log.info({ push: !!input.renderConfig }, 'Talos API service started');
    return true;
  };
  // Our own stat poll, not fs.watchFile: watchFile takes its first stat on the
  // thread pool some time after the call, so a talosconfig written in between
  // became its baseline and was never seen as a change (CI saw the service wait
  // forever). Here the baseline is taken before tryStart reads the file, so any
  // later write differs from it.
  const fileVersion = (): string | undefined => {
    try {
      const st = statSync(file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return undefined;
    }
  };
  let triedVersion = fileVersion();
  let poll: NodeJS.Timeout | undefined;
  const stopPolling = () => {
    if (poll) clearInterval(poll);
    poll = undefined;
  };
  if (!tryStart()) {
    if (current?.state !== 'failed') set('waiting', `no ${file} yet: push, bootstrap and reimage start when it appears (rackboot init, then rackboot talosconfig)`);
    input.log.info({ file }, 'Talos API service off until the talosconfig appears; watching for it');
    // Polled, not fs.watch: it sees a file that does not exist yet, on any filesystem.
    poll = setInterval(() => {
      const version = fileVersion();
      if (version === triedVersion) return;
      triedVersion = version;
      if (tryStart()) stopPolling();
    }, input.watchIntervalMs ?? TALOSCONFIG_POLL_MS);
    poll.unref();
  }
  return {
    name: 'talos',
    state: () => current!,
    coordination: () => coordination,
    leadership: () => coordination?.stats() ?? (input.settings.scaleOut?.postgres ? { leading: false, changes: 0, confirmedAgoMs: undefined } : undefined),
    async close() {
      closed = true;
      stopPolling();
      await orchestrator?.close();
      await coordination?.close();
      set('stopped', 'rackboot serve is not running');
    },
  };
}
