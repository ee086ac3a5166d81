// `rackboot config NODE` for a node whose installDisk is a selector: with no
// disk list to resolve against it prints upstream's diskSelector, or refuses
// a selector that diskSelector cannot say, with the reason and exit 1.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { init } from '../../src/cli/init.js';
import { config } from '../../src/cli/config.js';
import { runCommand } from './run-command.js';

it('prints diskSelector for an expressible selector and refuses transport sata', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-cli-sel-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const inventory = join(dir, 'cluster.yaml');
  writeFileSync(inventory, `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.11.5
nodes:
  - { name: cp-1, mac: 52:54:00:00:00:01, role: controlplane, installDisk: { transport: nvme, size: ">= 400GB" } }
  - { name: w-1, mac: 52:54:00:00:00:02, role: worker, installDisk: { transport: sata } }
`);
  const settings = join(dir, 'rackboot.yaml');
  writeFileSync(settings, `dataDir: ${dataDir}\ninventory: ${inventory}\nassetsDir: ${join(dir, 'assets')}\n`);
  expect((await runCommand(init, ['--config', settings])).code).toBe(0);

  const cp = await runCommand(config, ['cp-1', '--config', settings]);
  expect(cp.code).toBe(0);
  expect((parse(cp.out.split('\n---\n')[0]!) as { machine: { install: unknown } }).machine.install).toMatchObject({ diskSelector: { size: '>= 400GB', type: 'nvme' } });

  const w = await runCommand(config, ['w-1', '--config', settings]);
  expect(w.code).toBe(1);
  expect(w.err).toMatch(/^rackboot config: w-1: install disk selector: transport sata has no counterpart in Talos's machine.install.diskSelector/);
}, 120_000);
