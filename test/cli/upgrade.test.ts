// `rackboot upgrade` end to end in-process: a site whose inventory names fake
// nodes on 127.0.0.x:50000 (control planes over a real etcd), a fake Image
// Factory for the boot assets, the talosconfig the nodes trust.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { upgrade } from '../../src/cli/upgrade.js';
import { fakeUpgrade } from '../../src/lab/fake-talos/upgrade.js';
import { schematicId } from '../../src/factory/schematic.js';
import { Store } from '../../src/store/store.js';
import { activeRollout } from '../../src/store/rollouts.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { makeEtcdRack, type EtcdRack } from '../day2/etcd-rack.js';
import { startFakeFactory, type FakeFactory } from '../factory/fake-factory.js';
import type { FakeKubeApi } from '../fakes/kube-api.js';
import { readyKubeApi, writeRackTalosconfig } from '../day2/upgrade-rig.js';
import { appliedConfigFor } from '../../src/day2/applied.js';
import { defaultKubernetesVersion } from '../../src/talos/config/versions.js';
import { runCommand } from './run-command.js';

const TARGET = 'v1.13.3';
const SCHEMATIC = { extensions: [], extraKernelArgs: [] };
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => { await cleanup?.(); cleanup = undefined; });

async function site(rack: EtcdRack, factory: FakeFactory, extra = ''): Promise<{ config: string; dataDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-upgrade-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const nodes = [...rack.fakes].map(([name, f], i) => `  - name: ${name}\n    mac: 52:54:00:00:01:${(0x10 + i).toString(16)}\n    role: ${name.startsWith('cp') ? 'controlplane' : 'worker'}\n    ip: ${f.opts.host}\n    installDisk: /dev/sda\n`).join('');
  writeFileSync(join(dir, 'inventory.yaml'), `cluster:\n  name: rack\n  controlPlaneEndpoint: https://127.0.0.1:6443\n  talosVersion: ${TARGET}\n  schematic:\n    extensions: []\n  cni: flannel\n  configMode: push\nnodes:\n${nodes}`);
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\ninventory: ${join(dir, 'inventory.yaml')}\nassetsDir: ${join(dir, 'assets')}\nfactory:\n  url: ${factory.url}\nupgrade:\n  returnSeconds: 10\n${extra}`);
  writeRackTalosconfig(rack, dataDir);
  const prev = cleanup;
  cleanup = async () => { await prev?.(); rmSync(dir, { recursive: true, force: true }); };
  return { config, dataDir };
}

/** The site's inventory synced into its store with every node installed, and a Ready Kubernetes API behind DATA_DIR/kubeconfig. */
async function installedWithKube(rack: EtcdRack, s: { config: string; dataDir: string }): Promise<FakeKubeApi> {
  const kube = await readyKubeApi(rack, join(s.dataDir, 'kubeconfig'));
  const prev = cleanup;
  cleanup = async () => { await kube.close(); await prev?.(); };
  const store = new Store(join(s.dataDir, 'rackboot.db'));
  const inv = loadInventoryFile(join(s.config, '..', 'inventory.yaml'));
  if (!inv.ok) throw new Error('inventory invalid');
  store.syncInventory(inv.inventory);
  for (const n of rack.fakes.keys()) store.setState(n, 'installed', 'test');
  store.close();
  return kube;
}

it('upgrade --all fetches the assets, rolls every installed node once, and --status shows it; a paused rollout needs --resume', async () => {
  const rack = await makeEtcdRack(3, 1, { firstHost: 141, port: 50000 });
  const id = schematicId(SCHEMATIC);
  const factory = await startFakeFactory({ [`/image/${id}/${TARGET}/kernel-amd64`]: Buffer.from('k'), [`/image/${id}/${TARGET}/initramfs-amd64.xz`]: Buffer.from('i') });
  cleanup = async () => { await factory.close(); await rack.close(); };
  const s = await site(rack, factory);
  // Each upgraded node must be Ready in Kubernetes, asked through DATA_DIR/kubeconfig.
  const kube = await installedWithKube(rack, s);

  // A dead etcd member: the rollout pauses before touching anything, and a new run refuses without --resume.
  await rack.etcd.kill('cp2');
  const paused = await runCommand(upgrade, ['--config', s.config, '--all']);
  expect(paused.code).toBe(1);
  expect(paused.out).toMatch(/paused: cp1: quorum gate: etcd member\(s\) not healthy: cp2/);
  const again = await runCommand(upgrade, ['--config', s.config, '--all']);
  expect(again.err).toMatch(/is paused .*--resume/);
  rack.etcd.restart('cp2');
  await rack.etcd.waitHealthy(['cp1', 'cp2', 'cp3'], 10_000);

  const done = await runCommand(upgrade, ['--config', s.config, '--resume']);
  expect(done.err).toBe('');
  expect(done.code).toBe(0);
  expect(factory.requests.filter((r) => r.path.includes(`/${TARGET}/`)).map((r) => r.path).sort()).toEqual([`/image/${id}/${TARGET}/initramfs-amd64.xz`, `/image/${id}/${TARGET}/kernel-amd64`]);
  expect(Object.fromEntries([...rack.fakes].map(([n, f]) => [n, fakeUpgrade(f).upgrades]))).toEqual({
    cp1: [`${new URL(factory.url).host}/metal-installer/${id}:${TARGET}`], cp2: [expect.any(String)], cp3: [expect.any(String)], w1: [expect.any(String)],
  });
  // The CLI asked Kubernetes about each node it upgraded, through the stored kubeconfig.
  expect([...new Set(kube.requests)].sort()).toEqual(['cp1', 'cp2', 'cp3', 'w1'].map((n) => `GET /api/v1/nodes/${n}`));
  const st = await runCommand(upgrade, ['--config', s.config, '--status']);
  expect(st.out).toMatch(/rollout \d+: Talos v1\.13\.3 .* done/);
  expect(st.out).toMatch(/cp1 +controlplane +done +v1\.13\.0 -> v1\.13\.3/);
  expect((await runCommand(upgrade, ['--config', s.config])).code).toBe(2);
}, 120_000);

it('upgrade --kubernetes rolls the inventory\'s Kubernetes version node by node, in place, and records it', async () => {
  const rack = await makeEtcdRack(3, 1, { firstHost: 146, port: 50000 });
  const factory = await startFakeFactory({});
  cleanup = async () => { await factory.close(); await rack.close(); };
  const s = await site(rack, factory);
  await installedWithKube(rack, s);
  const version = defaultKubernetesVersion(TARGET).replace(/^v/, '');

  const out = await runCommand(upgrade, ['--config', s.config, '--kubernetes']);
  expect(out.err).toBe('');
  expect(out.code).toBe(0);
  expect(out.out).toMatch(new RegExp(`^rollout \\d+: Kubernetes ${version.replace(/\./g, '\\.')} done$`, 'm'));
  expect(out.out).toMatch(/kube-apiserver@cp1 +controlplane +done/);
  for (const [name, f] of rack.fakes) {
    expect(f.applied.length).toBe(name === 'w1' ? 2 : 6);
    expect(f.applied.slice(1).every((a) => a.mode === 'NO_REBOOT')).toBe(true);
    expect(f.applied.at(-1)!.data.toString()).toContain(`ghcr.io/siderolabs/kubelet:v${version}`);
  }
  const after = new Store(join(s.dataDir, 'rackboot.db'));
  expect(['cp1', 'cp2', 'cp3', 'w1'].map((n) => appliedConfigFor(after, n)?.kubernetesVersion)).toEqual(Array(4).fill(version));
  after.close();
  // Nothing left to do: a second roll applies nothing more.
  expect((await runCommand(upgrade, ['--config', s.config, '--kubernetes'])).code).toBe(0);
  expect([...rack.fakes.values()].map((f) => f.applied.length)).toEqual([6, 6, 6, 2]);
}, 120_000);

it('upgrade --kubernetes refuses a path upstream refuses before recording or sending anything', async () => {
  const rack = await makeEtcdRack(1, 1, { firstHost: 136, port: 50000 });
  const factory = await startFakeFactory({});
  cleanup = async () => { await factory.close(); await rack.close(); };
  const s = await site(rack, factory);
  const inventory = join(s.config, '..', 'inventory.yaml');
  writeFileSync(inventory, readFileSync(inventory, 'utf8').replace(`  talosVersion: ${TARGET}\n`, `  talosVersion: ${TARGET}\n  kubernetesVersion: 1.33.0\n`));
  await installedWithKube(rack, s);

  // The fakes run Talos v1.13.0 with no image in their config: its default, Kubernetes 1.36.0, runs.
  const out = await runCommand(upgrade, ['--config', s.config, '--kubernetes']);
  expect(out.code).toBe(1);
  expect(out.err).toMatch(/cp1: unsupported upgrade path 1\.36->1\.33 \(from 1\.36\.0 to 1\.33\.0\)/);
  expect([...rack.fakes.values()].map((f) => f.applied.length)).toEqual([1, 1]);
  const store = new Store(join(s.dataDir, 'rackboot.db'));
  expect(activeRollout(store.db)).toBeUndefined();
  store.close();
}, 60_000);

