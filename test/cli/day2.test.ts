// rackboot plan / apply against fake nodes on their inventory IPs at the
// real port, installed with the configs rackboot renders from a real
// secrets bundle and inventory file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apply, plan } from '../../src/cli/day2.js';
import { talosconfig } from '../../src/cli/talosconfig.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { configuredPublicUrl } from '../../src/net/public-url.js';
import { loadSettings } from '../../src/settings/settings.js';
import { nodeConfigText } from '../../src/talos/config/render.js';
import { kernelLogTarget } from '../../src/talos/kernel-args.js';
import { b64, generateSecrets, loadSecrets, secretsPath, secretsYaml, writeSecretFile } from '../../src/talos/secrets.js';
import { loadAdminIdentity } from '../../src/talos/talosconfig.js';
import { makeRack, pxeBooted, type Rack } from '../talos/cluster-fixture.js';
import { runCommand } from './run-command.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

function inventoryYaml(talosVersion: string, w1Patches: unknown[]): string {
  return stringify({
    cluster: { name: 'rackboot', controlPlaneEndpoint: 'https://127.0.67.1:6443', talosVersion, configMode: 'push', cni: 'flannel' },
    nodes: [
      { name: 'cp1', mac: '52:54:00:00:00:10', role: 'controlplane', ip: '127.0.67.1', installDisk: '/dev/sda' },
      { name: 'w1', mac: '52:54:00:00:00:11', role: 'worker', ip: '127.0.67.2', installDisk: '/dev/sda', patches: w1Patches },
    ],
  });
}

it('plan shows nothing to do after install, then the redacted diff of an inventory edit; apply sends it and plan is clean again', async () => {
  rack = await makeRack(['controlplane', 'worker'], { hostPrefix: '127.0.67.', firstHost: 1, port: 50000, profile: 'v1.11' /* the fakes validate against the v1.11 schema */ });
  const r = rack;
  const inventory = join(r.dir, 'cluster.yaml');
  const version = r.fakes.get('cp1')!.profile.versionTag;
  writeFileSync(inventory, inventoryYaml(version, []));
  const config = join(r.dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ${r.dir}\ninventory: ${inventory}\nassetsDir: ${join(r.dir, 'assets')}\ndhcp:\n  mode: off\ntftp:\n  enabled: false\n`);
  // A real bundle whose OS CA is the rack's, which signed the fakes' server certificates.
  const bundle = await generateSecrets();
  bundle.certs.os = { crt: b64(r.pki.osCa.crt), key: b64(r.pki.osCa.key) };
  writeSecretFile(secretsPath(r.dir), secretsYaml(bundle));
  expect((await runCommand(talosconfig, ['--config', config])).code).toBe(0);
  const settings = loadSettings({ config });
  const admin = loadAdminIdentity(join(r.dir, 'talosconfig'));
  const render = async (name: string) => {
    const inv = loadInventoryFile(inventory);
    if (!inv.ok) throw new Error('bad inventory');
    const node = inv.inventory.nodes.find((n) => n.name === name)!;
    return Buffer.from(nodeConfigText({ cluster: inv.inventory.cluster, node, secrets: loadSecrets(r.dir), settings,
      kernelLogUrl: kernelLogTarget(settings.console, configuredPublicUrl(settings)) }));
  };
  pxeBooted(r, 'cp1', 'w1');
  const orch = r.orchestrator({ admin, renderConfig: render, endpointOf: (n) => `${n.ip}:50000` });
  for (let i = 0; i < 60 && !r.store.listNodes().every((n) => ['installed', 'ready'].includes(n.state)); i++) {
    await orch.pass();
    await new Promise((res) => setTimeout(res, 30));
  }
  await orch.close();
  const states = r.store.listNodes().map((n) => n.state);
  expect(states.every((st) => st === 'installed' || st === 'ready'), states.join()).toBe(true);

  const common = ['--config', config];
  expect(await runCommand(plan, common)).toEqual({ code: 0, out: 'cp1: up to date\nw1: up to date', err: '' });

  writeFileSync(inventory, inventoryYaml(version, [{ machine: { nodeLabels: { rack: 'r7' } } }]));
  const p = await runCommand(plan, [...common, 'w1']);
  expect(p.code).toBe(0);
  expect(p.out).toMatch(/^w1 \(worker, \w+\):\n {2}config: differs; Talos would apply it without a reboot\n/);
  expect(p.out).toMatch(/^ {4}\+\s+nodeLabels:$/m);
  const secrets = loadSecrets(r.dir);
  for (const s of [secrets.trustdinfo.token, secrets.secrets.bootstraptoken, secrets.certs.os.key]) expect(p.out).not.toContain(s);
  const json = JSON.parse((await runCommand(plan, [...common, '--json', 'w1'])).out);
  expect(json[0]).toMatchObject({ node: 'w1', pending: true, config: { mode: 'NO_REBOOT' } });

  expect((await runCommand(apply, common)).code).toBe(2);
  expect((await runCommand(apply, [...common, 'w1', '--all'])).code).toBe(2);
  expect(await runCommand(apply, [...common, 'w1'])).toEqual({ code: 0, out: 'w1: applied, Talos chose NO_REBOOT', err: '' });
  const ev = r.store.events({ node: 'w1' }).filter((e) => e.kind === 'day2');
  expect(ev.at(-1)!.data).toMatchObject({ actor: expect.stringMatching(/^cli:/), mode: 'NO_REBOOT' });
  expect(await runCommand(plan, common)).toEqual({ code: 0, out: 'cp1: up to date\nw1: up to date', err: '' });
}, 60_000);
