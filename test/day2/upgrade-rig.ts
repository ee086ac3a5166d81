// What the upgrade and Kubernetes-roll tests share around an etcd rack
// (etcd-rack.ts): a fake Kubernetes API with every node Ready, the site's
// files a daemon or the CLI reads, the nodes with their roles, how often
// each fake was upgraded, and the restart-at-every-step loop.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { fakeUpgrade } from '../../src/lab/fake-talos/upgrade.js';
import { Store } from '../../src/store/store.js';
import { talosconfigYaml } from '../../src/talos/talosconfig.js';
import type { RolloutRecord } from '../../src/store/rollouts.js';
import { startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api.js';
import type { EtcdRack } from './etcd-rack.js';

/** A fake Kubernetes API trusting the rack's PKI, every rack node Ready, its admin kubeconfig written 0600 to `kubeconfigFile`. */
export async function readyKubeApi(rack: EtcdRack, kubeconfigFile: string): Promise<FakeKubeApi> {
  const kube = await startFakeKubeApi(rack.pki);
  for (const name of rack.fakes.keys()) kube.nodes.set(name, 'True');
  writeFileSync(kubeconfigFile, kube.kubeconfig(rack.pki.admin), { mode: 0o600 });
  return kube;
}

/** The talosconfig with the rack's admin identity, where rackboot reads it (DATA_DIR/talosconfig). */
export function writeRackTalosconfig(rack: EtcdRack, dataDir: string): void {
  writeFileSync(join(dataDir, 'talosconfig'), talosconfigYaml('rack', ['127.0.0.1'], { caPem: rack.pki.osCa.crt, certPem: rack.pki.admin.crt, keyPem: rack.pki.admin.key, tlsKeyPem: rack.pki.admin.key }), { mode: 0o600 });
}

export interface DaemonSite { dir: string; dataDir: string; config: string; kube: FakeKubeApi; close(): Promise<void> }

/** A daemon's files for the rack with no inventory: rackboot.yaml, the talosconfig and a kubeconfig to a Ready fake API. */
export async function daemonSite(rack: EtcdRack, prefix: string): Promise<DaemonSite> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\ninventory: ${join(dir, 'none.yaml')}\nassetsDir: ${join(dir, 'assets')}\n`);
  writeRackTalosconfig(rack, dataDir);
  const kube = await readyKubeApi(rack, join(dataDir, 'kubeconfig'));
  return { dir, dataDir, config, kube, close: async () => { await kube.close(); rmSync(dir, { recursive: true, force: true }); } };
}

export interface RollEnv { rack: EtcdRack; dir: string; store: Store; kube: FakeKubeApi }

/**
 * For a test file whose every test runs one roll on its own rack: returns
 * the set-up (a store in a temp dir, a Ready fake Kubernetes API) and
 * registers the teardown that closes all of it after each test.
 */
export function rollEnvPerTest(prefix: string): (rack: EtcdRack) => Promise<RollEnv> {
  let env: RollEnv | undefined;
  afterEach(async () => {
    if (!env) return;
    env.store.close();
    await env.kube.close();
    await env.rack.close();
    rmSync(env.dir, { recursive: true, force: true });
    env = undefined;
  });
  return async (rack) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const kube = await readyKubeApi(rack, join(dir, 'kubeconfig'));
    env = { rack, dir, store: new Store(join(dir, 'rackboot.db')), kube };
    return env;
  };
}

export const rackNodes = (rack: EtcdRack) => [...rack.fakes.keys()].map((name) => ({ name, role: name.startsWith('cp') ? 'controlplane' as const : 'worker' as const }));
export const upgradeCounts = (rack: EtcdRack) => Object.fromEntries([...rack.fakes].map(([n, f]) => [n, fakeUpgrade(f).upgrades.length]));

class Crash extends Error {}

/**
 * Runs an engine again and again, crashing it once at each persisted step it
 * reports (`row:step`), reopening the store before each run as a daemon
 * restart does, until the rollout is done. `paused` answers a run that ended
 * paused (e.g. the operator resumes); returns the steps crashed at.
 */
export async function crashAtEveryStep(opts: {
  maxRuns: number;
  reopen: () => void;
  run: (checkpoint: (row: string, step: string) => void) => Promise<RolloutRecord>;
  paused?: (r: RolloutRecord) => void;
}): Promise<string[]> {
  const crashed: string[] = [];
  const checkpoint = (row: string, step: string) => {
    const at = `${row}:${step}`;
    if (!crashed.includes(at)) { crashed.push(at); throw new Crash(at); }
  };
  for (let run = 0; run < opts.maxRuns; run++) {
    opts.reopen();
    try {
      const r = await opts.run(checkpoint);
      if (r.state === 'done') break;
      opts.paused?.(r);
    } catch (err) {
      if (!(err instanceof Crash)) throw err;
    }
  }
  return crashed;
}
