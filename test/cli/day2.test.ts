// rackboot plan / apply against fake nodes on their inventory IPs at the
// real port, installed with the configs rackboot renders from a real
// secrets bundle and inventory file (test/day2/real-config-rack.ts).
import { afterEach, expect, it } from 'vitest';
import { apply, plan } from '../../src/cli/day2.js';
import { loadSecrets } from '../../src/talos/secrets.js';
import { realConfigRack, type RealConfigRack } from '../day2/real-config-rack.js';
import { runCommand } from './run-command.js';

let site: RealConfigRack | undefined;
afterEach(async () => {
  await site?.rack.close();
  site = undefined;
});

it('plan shows nothing to do after install, then the redacted diff of an inventory edit; apply sends it and plan is clean again', async () => {
  site = await realConfigRack('127.0.67.');
  const r = site.rack;
  const common = ['--config', site.settingsFile];
  expect(await runCommand(plan, common)).toEqual({ code: 0, out: 'cp1: up to date\nw1: up to date', err: '' });

  site.writeInventory({ w1: [{ machine: { nodeLabels: { rack: 'r7' } } }] });
  const p = await runCommand(plan, [...common, 'w1']);
  expect(p.code).toBe(0);
  expect(p.out).toMatch(/^w1 \(worker, \w+\):\n {2}config: differs; Talos would apply it without a reboot\n/);
  expect(p.out).toMatch(/^ {4}\+\s+nodeLabels:$/m);
  const secrets = loadSecrets(r.dir);
  for (const s of [secrets.trustdinfo.token, secrets.secrets.bootstraptoken, secrets.certs.os.key]) expect(p.out).not.toContain(s);
  const json = JSON.parse((await runCommand(plan, [...common, '--json', 'w1'])).out);
  expect(json[0]).toMatchObject({ node: 'w1', pending: true, config: { mode: 'NO_REBOOT' } });
  expect((await runCommand(plan, [...common, 'nope'])).code).toBe(2);

  expect((await runCommand(apply, common)).code).toBe(2);
  expect((await runCommand(apply, [...common, 'w1', '--all'])).code).toBe(2);
  expect(await runCommand(apply, [...common, 'w1'])).toEqual({ code: 0, out: 'w1: applied, Talos chose NO_REBOOT', err: '' });
  const ev = r.store.events({ node: 'w1' }).filter((e) => e.kind === 'day2');
  expect(ev.at(-1)!.data).toMatchObject({ actor: expect.stringMatching(/^cli:/), mode: 'NO_REBOOT' });
  expect(await runCommand(plan, common)).toEqual({ code: 0, out: 'cp1: up to date\nw1: up to date', err: '' });

  // A new kubernetesVersion changes the kubelet image, which Talos would apply in place on every node at once: left to the upgrade rollout.
  const sent = r.fakes.get('w1')!.applied.length;
  site.writeInventory({}, { kubernetesVersion: '1.33.9' });
  expect((await runCommand(plan, [...common, 'w1'])).out).toMatch(/^ {2}Kubernetes version: 1\.\d+\.\d+ → 1\.33\.9$/m);
  const left = await runCommand(apply, [...common, '--all']);
  expect(left.code).toBe(1);
  expect(left.out).toMatch(/^w1: not applied: Kubernetes version 1\.\d+\.\d+ → 1\.33\.9: roll it out with rackboot upgrade first$/m);
  expect(r.fakes.get('w1')!.applied.length).toBe(sent);

  // A change that reboots the only control plane meets the upgrade's etcd quorum gate first: held, nothing sent.
  site.writeInventory({ cp1: [{ machine: { env: { HTTP_PROXY: 'http://proxy:3128' } } }] });
  const cpSent = r.fakes.get('cp1')!.applied.length;
  const held = await runCommand(apply, [...common, 'cp1']);
  expect(held.code).toBe(1);
  expect(held.out).toMatch(/^cp1: held: cp1: quorum gate: /);
  expect(r.fakes.get('cp1')!.applied.length).toBe(cpSent);
}, 60_000);
