// Fake Talos v1.11 nodes on their inventory IPs at port 50000, installed by
// the orchestrator with the configs rackboot renders from an inventory file
// and a real secrets bundle (whose OS CA is the rack's, which signed the
// fakes' server certificates), plus the talosconfig `rackboot talosconfig`
// writes: what the CLI, the page and auto-apply meet on a real site.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { talosconfig } from '../../src/cli/talosconfig.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { configuredPublicUrl } from '../../src/net/public-url.js';
import { loadSettings, type Settings } from '../../src/settings/settings.js';
import { nodeConfigText } from '../../src/talos/config/render.js';
import { kernelLogTarget } from '../../src/talos/kernel-args.js';
import { b64, generateSecrets, loadSecrets, secretsPath, secretsYaml, writeSecretFile } from '../../src/talos/secrets.js';
import { loadAdminIdentity } from '../../src/talos/talosconfig.js';
import { runCommand } from '../cli/run-command.js';
import { makeRack, pxeBooted, type Rack } from '../talos/cluster-fixture.js';

export interface RealConfigRack {
  rack: Rack;
  inventoryFile: string;
  settingsFile: string;
  settings: Settings;
  /** Rewrites the inventory file with these patches per node. */
  writeInventory(patches?: Record<string, unknown[]>, cluster?: Record<string, unknown>): void;
  inventory(): Inventory;
  kernelLogUrl(): string | undefined;
}

export async function realConfigRack(subnet: string): Promise<RealConfigRack> {
  const rack = await makeRack(['controlplane', 'worker'], { hostPrefix: subnet, firstHost: 1, port: 50000, profile: 'v1.11' /* the fakes validate against the v1.11 schema */ });
  const inventoryFile = join(rack.dir, 'cluster.yaml');
  const version = rack.fakes.get('cp1')!.profile.versionTag;
  const writeInventory = (patches: Record<string, unknown[]> = {}, cluster: Record<string, unknown> = {}) => writeFileSync(inventoryFile, stringify({
    cluster: { name: 'rackboot', controlPlaneEndpoint: `https://${subnet}1:6443`, talosVersion: version, configMode: 'push', cni: 'flannel', ...cluster },
    nodes: [
      { name: 'cp1', mac: '52:54:00:00:00:10', role: 'controlplane', ip: `${subnet}1`, installDisk: '/dev/sda', patches: patches.cp1 ?? [] },
      { name: 'w1', mac: '52:54:00:00:00:11', role: 'worker', ip: `${subnet}2`, installDisk: '/dev/sda', patches: patches.w1 ?? [] },
    ],
  }));
  writeInventory();
  const settingsFile = join(rack.dir, 'rackboot.yaml');
  writeFileSync(settingsFile, `dataDir: ${rack.dir}\ninventory: ${inventoryFile}\nassetsDir: ${join(rack.dir, 'assets')}\ndhcp:\n  mode: off\ntftp:\n  enabled: false\n`);
  const bundle = await generateSecrets();
  bundle.certs.os = { crt: b64(rack.pki.osCa.crt), key: b64(rack.pki.osCa.key) };
  writeSecretFile(secretsPath(rack.dir), secretsYaml(bundle));
  expect((await runCommand(talosconfig, ['--config', settingsFile])).code).toBe(0);
  const settings = loadSettings({ config: settingsFile });
  const inventory = () => {
    const inv = loadInventoryFile(inventoryFile);
    if (!inv.ok) throw new Error('bad inventory');
    return inv.inventory;
  };
  const kernelLogUrl = () => kernelLogTarget(settings.console, configuredPublicUrl(settings));
  const render = async (name: string) => {
    const inv = inventory();
    const node = inv.nodes.find((n) => n.name === name)!;
    return Buffer.from(nodeConfigText({ cluster: inv.cluster, node, secrets: loadSecrets(rack.dir), settings, kernelLogUrl: kernelLogUrl() }));
  };
  pxeBooted(rack, 'cp1', 'w1');
  const orch = rack.orchestrator({ admin: loadAdminIdentity(join(rack.dir, 'talosconfig')), renderConfig: render, endpointOf: (n) => `${n.ip}:50000` });
  for (let i = 0; i < 60 && !rack.store.listNodes().every((n) => ['installed', 'ready'].includes(n.state)); i++) {
    await orch.pass();
    await new Promise((res) => setTimeout(res, 30));
  }
  await orch.close();
  const states = rack.store.listNodes().map((n) => n.state);
  expect(states.every((st) => st === 'installed' || st === 'ready'), states.join()).toBe(true);
  return { rack, inventoryFile, settingsFile, settings, writeInventory, inventory, kernelLogUrl };
}
