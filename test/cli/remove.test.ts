// `rackboot remove` wiring: usage, and the refusal for a node still in the inventory
// (the removal itself is tested against the real etcd rig in test/day2/remove.test.ts).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { remove } from '../../src/cli/remove.js';
import { talosconfigYaml } from '../../src/talos/talosconfig.js';
import { makeTestPki } from '../fakes/pki.js';
import { runCommand, scratchSite } from './run-command.js';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

it('needs exactly one NODE, and refuses a node that is still in the inventory without touching it', async () => {
  const site = scratchSite();
  dir = site.dir;
  const pki = await makeTestPki();
  writeFileSync(join(site.dataDir, 'talosconfig'), talosconfigYaml('rack1', ['10.77.0.11'], { caPem: pki.osCa.crt, certPem: pki.admin.crt, keyPem: pki.admin.key, tlsKeyPem: pki.admin.key }), { mode: 0o600 });
  expect((await runCommand(remove, ['--config', site.config])).code).toBe(2);
  expect((await runCommand(remove, ['--config', site.config, 'a', 'b'])).code).toBe(2);
  const r = await runCommand(remove, ['--config', site.config, 'cp-1']);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/cp-1 is still in the inventory: delete it there first/);
  expect((await runCommand(remove, ['--config', site.config, 'nope'])).err).toMatch(/nope is not known to rackboot/);
});
