// A rack of fake Talos nodes on 127.0.0.x loopback addresses, an inventory
// describing them, and a store on disk that survives "daemon restarts".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Inventory, NodeBmcSpec, NodeSpec, Role } from '../../src/inventory/types.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Store } from '../../src/store/store.js';
import { TalosOrchestrator, type OrchestratorDeps } from '../../src/talos/orchestrator.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { FakeEtcd, loadConfigSchema } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { NEWEST_PROFILE, PROFILES, profile as profileOf, type ProfileName } from '../../src/lab/fake-talos/profiles.js';
import { freePort } from './helpers.js';

export const FAST = { timeoutMs: 1500, retries: 1, backoffMs: 10, maxBackoffMs: 20 };

/** Every Talos version profile the fake node has: lifecycle tests run against each (describe.each). */
export const ALL_PROFILES = [...PROFILES];

export interface Rack {
  profile: ProfileName;
  dir: string;
  dbFile: string;
  store: Store;
  pki: TestPki;
  etcd: FakeEtcd;
  fakes: Map<string, FakeTalosNode>;
  orchestrator(extra?: Partial<OrchestratorDeps>): TalosOrchestrator;
  /** One pass of a fresh orchestrator, closed after it (as one tick of the daemon's loop). */
  onePass(extra?: Partial<OrchestratorDeps>): ReturnType<TalosOrchestrator['pass']>;
  /** Simulates a daemon restart: closes the store and opens the same file again. */
  reopenStore(): Store;
  totalBootstraps(): number;
  totalResets(): number;
  close(): Promise<void>;
}

/**
 * `hostPrefix`/`port`: where the fakes listen (default 127.0.0.11+ on free
 * ports). With `port: 50000` the inventory carries each node's IP, so the
 * real address lookup (IP:50000) finds them, as the CLI does.
 */
export async function makeRack(roles: Role[], opts: { hostPrefix?: string; firstHost?: number; port?: number; profile?: ProfileName; bmc?: (name: string) => NodeBmcSpec | undefined } = {}): Promise<Rack> {
  const profile = opts.profile ?? NEWEST_PROFILE;
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-talos-'));
  const dbFile = join(dir, 'rackboot.db');
  const pki = await makeTestPki();
  const etcd = new FakeEtcd();
  const schema = loadConfigSchema();
  const fakes = new Map<string, FakeTalosNode>();
  const specs: NodeSpec[] = [];
  let cp = 0;
  let w = 0;
  for (const [i, role] of roles.entries()) {
    const name = role === 'controlplane' ? `cp${++cp}` : `w${++w}`;
    const host = `${opts.hostPrefix ?? '127.0.0.'}${(opts.firstHost ?? 11) + i}`;
    specs.push({
      name, mac: `52:54:00:00:00:${(0x10 + i).toString(16)}`, role, installDisk: '/dev/sda',
      bootstrap: role === 'controlplane' && cp === 1, configMode: 'push', patches: [], ...(opts.port ? { ip: host } : {}),
    });
    const bmc = opts.bmc?.(name);
    if (bmc) specs[specs.length - 1]!.bmc = bmc;
    fakes.set(name, new FakeTalosNode({
      host, port: opts.port ?? (await freePort(host)), hostname: name, etcd, profile,
      maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]),
      validate: 'validate' in schema ? schema.validate : undefined, installDelayMs: 20,
    }));
  }
  const inventory: Inventory = {
    cluster: {
      name: 'rackboot', controlPlaneEndpoint: 'https://cp.example:6443', talosVersion: profileOf(profile).versionTag,
      schematic: { extensions: [], extraKernelArgs: [] }, cni: 'flannel', configMode: 'push',
      patches: { all: [], controlplane: [], worker: [] },
    },
    nodes: specs,
  };
  const rack: Rack = {
    profile, dir, dbFile, pki, etcd, fakes,
    store: new Store(dbFile),
    orchestrator: (extra = {}) => new TalosOrchestrator({
      store: rack.store,
      states: new StateMachine(rack.store),
      admin: { ca: pki.osCa.crt, crt: pki.admin.crt, key: pki.admin.key },
      endpointOf: (n) => fakes.get(n.name)?.endpoint,
      dataDir: dir,
      renderConfig: async (name, chosen) => {
        const n = rack.store.getNode(name)!;
        const installDisk = chosen?.installDisk ?? (typeof n.spec.installDisk === 'string' ? n.spec.installDisk : undefined);
        return minimalMachineConfig({ type: n.role, osCaPem: pki.osCa.crt, installDisk, hostname: name });
      },
      checkInstallDisk: true,
      policy: FAST,
      pollIntervalMs: 20,
      pollTimeoutMs: 300,
      ...extra,
    }),
    async onePass(extra = {}) {
      const orch = rack.orchestrator(extra);
      try {
        return await orch.pass();
      } finally {
        await orch.close();
      }
    },
    reopenStore() {
      rack.store.close();
      rack.store = new Store(dbFile);
      return rack.store;
    },
    totalBootstraps: () => [...fakes.values()].reduce((s, f) => s + f.bootstrapCalls, 0),
    totalResets: () => [...fakes.values()].reduce((s, f) => s + f.resets.length, 0),
    async close() {
      for (const f of fakes.values()) await f.stop();
      rack.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  rack.store.syncInventory(inventory);
  for (const f of fakes.values()) await f.start();
  return rack;
}

/** w1 PXE-booted, then one orchestrator pass; returns w1's event messages. */
export async function w1AfterOnePass(r: Rack): Promise<string[]> {
  pxeBooted(r, 'w1');
  await r.onePass();
  return r.store.events({ node: 'w1' }).map((e) => e.message);
}

/** What the HTTP side does when it hands a node the Talos kernel. */
export function pxeBooted(rack: Rack, ...names: string[]): void {
  for (const n of names) rack.store.setState(n, 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
}
