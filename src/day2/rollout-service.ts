// The daemon's side of upgrade rollouts: a rollout the store has running
// and nobody drives (the daemon restarted mid-rollout, or the page resumed
// it) is picked up here and run from its recorded steps. Paused rollouts
// stay paused; only the operator resumes them. A Kubernetes roll
// (k8s-roll.ts) is run by its own engine.
//
// With several appliances on one PostgreSQL (scaleOut.postgres) the rollout
// rows are shared (store/pg/pg-rollouts.ts) and only the appliance leading the
// Talos steps runs a rollout, claimed with its leader session: when the
// leader dies its lock goes, and the next leader resumes from the stored
// steps (a node at 'calling' is asked, never called blindly; rollout.ts).
import { existsSync } from 'node:fs';
import type { Service } from '../daemon.js';
import { fetchAssets } from '../factory/assets.js';
import type { SchematicInput } from '../factory/schematic.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import { rolloutsOf } from '../store/pg/pg-rollouts.js';
import { SharedStore } from '../store/pg/shared-store.js';
import type { Store } from '../store/store.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { RolloutBusyError, UpgradeRollout, type RolloutDeps } from './rollout.js';
import { storedKubeconfigCheck } from './kube-node.js';
import { K8S_ROLLOUT_KIND, KubernetesRollout, type K8sRollDeps } from './k8s-roll.js';
import { kubeconfigPath } from '../talos/health.js';
import { storeControlPlanes } from './config-gates.js';

export interface RolloutServiceInput {
  settings: Settings;
  store: Store;
  log: Logger;
  /** The live inventory's schematic, for fetching the target's boot assets. */
  schematic: () => SchematicInput | undefined;
  intervalMs?: number;
  /** Tests: overrides of the rollout's dependencies. */
  deps?: Partial<RolloutDeps>;
  k8sDeps?: Partial<K8sRollDeps>;
  /** With scaleOut.postgres: the Talos service's leadership (PgCoordination); rollouts run only while it leads. */
  leadership?: () => RolloutLeadership | undefined;
}

export interface RolloutLeadership {
  lead(): Promise<boolean>;
  /** The leader session's backend pid: the driver a shared rollout is claimed by. */
  sessionPid(): Promise<number>;
}

export function startRolloutService(input: RolloutServiceInput): Service | undefined {
  const file = talosconfigPath(input.settings.dataDir);
  if (!existsSync(file)) return undefined;
  const admin = loadAdminIdentity(file);
  const { store, settings, log } = input;
  const endpoints = storeEndpoints(store);
  const shared = store instanceof SharedStore;
  const rollouts = rolloutsOf(store);
  let driver: (() => Promise<number>) | undefined;
  const rollout = new UpgradeRollout({
    db: store,
    driver: () => driver!(),
    nodeConfigIn: store,
    connect: (ep) => TalosClient.configured(ep, admin),
    endpointOf: (name) => { const n = store.getNode(name); return n ? endpoints(n) : undefined; },
    fetchAssets: async (version) => {
      const schematic = input.schematic();
      if (!schematic) throw new Error('no valid inventory loaded');
      await fetchAssets({ factoryUrl: settings.factory.url, assetsDir: settings.assetsDir, db: store.db, schematic, version, arch: 'amd64' });
    },
    parallelism: settings.upgrade.parallelism,
    returnTimeoutMs: settings.upgrade.returnSeconds * 1000,
    pollMs: 2000,
    kubeNodeNotReady: storedKubeconfigCheck(kubeconfigPath(settings.dataDir)),
    log,
    ...input.deps,
  });
  const k8sRollout = new KubernetesRollout({
    db: store,
    driver: () => driver!(),
    nodeConfigIn: store,
    connect: (ep) => TalosClient.configured(ep, admin),
    endpointOf: (name) => { const n = store.getNode(name); return n ? endpoints(n) : undefined; },
    controlPlanes: storeControlPlanes(store, endpoints),
    kubeNodeNotReady: storedKubeconfigCheck(kubeconfigPath(settings.dataDir)),
    returnTimeoutMs: settings.upgrade.returnSeconds * 1000,
    pollMs: 2000,
    log,
    ...input.k8sDeps,
  });
  let busy: Promise<void> | undefined;
  let closed = false;
  const pass = async () => {
    if (busy || closed) return;
    busy = (async () => {
      if (shared) {
        const leader = input.leadership?.();
        if (!leader || !(await leader.lead())) return;
        driver = () => leader.sessionPid();
      } else {
        driver = async () => process.pid;
      }
      const r = rollouts.active();
      if (!r || r.state !== 'running') return;
      try {
        log.info({ rollout: r.id, target: r.targetVersion }, 'running upgrade rollout');
        const after = r.kind === K8S_ROLLOUT_KIND ? await k8sRollout.run(r.id) : await rollout.run(r.id);
        log.info({ rollout: r.id, state: after.state, reason: after.reason }, 'upgrade rollout stopped');
      } catch (err) {
        if (!(err instanceof RolloutBusyError)) log.error({ err, rollout: r.id }, 'upgrade rollout failed');
      }
    })();
    try {
      await busy;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'rollout store unavailable; trying again');
    } finally {
      busy = undefined;
    }
  };
  const timer = setInterval(() => void pass(), input.intervalMs ?? 5000);
  void pass();
  return {
    name: 'rollout',
    close: async () => {
      closed = true;
      clearInterval(timer);
      // The run stops at its next wait; what it recorded is where the next start resumes.
      rollout.stop();
      k8sRollout.stop();
      await busy;
    },
  };
}
