// day2.autoApply: the daemon's wiring (Day2Service) on an inventory reload,
// against fake nodes installed with rackboot's real configs.
import { configuredPublicUrl } from '../../src/net/public-url.js';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { Day2Service } from '../../src/day2/service.js';
import { InventoryWatcher } from '../../src/inventory/watch.js';
import { waitFor } from '../talos/helpers.js';
import { realConfigRack, type RealConfigRack } from './real-config-rack.js';

let site: RealConfigRack | undefined;
let service: Day2Service | undefined;
afterEach(async () => {
  await service?.close();
  await site?.rack.close();
  site = service = undefined;
});

it('after an inventory reload applies only what needs no reboot, and only when the setting says so', async () => {
  site = await realConfigRack('127.0.68.');
  const { rack } = site;
  const log = pino({ level: 'silent' });
  const watcher = new InventoryWatcher(site.inventoryFile, rack.store, log);
  watcher.reload();
  const settings = site.settings;
  const day2 = new Day2Service({ settings, store: rack.store, inventory: () => watcher.inventory, publicUrl: () => configuredPublicUrl(settings), log });
  service = day2;
  watcher.on('applied', () => void day2.autoApply.trigger()); // as src/daemon.ts wires it
  const applied = (n: string) => rack.fakes.get(n)!.applied.length;

  // cp1: an env change (needs a reboot); w1: labels (in place).
  const edit = { cp1: [{ machine: { env: { HTTP_PROXY: 'http://proxy:3128' } } }], w1: [{ machine: { nodeLabels: { rack: 'r7' } } }] };
  expect(settings.day2.autoApply).toBe('none');
  site.writeInventory(edit);
  watcher.reload();
  await day2.autoApply.trigger();
  expect([applied('cp1'), applied('w1')]).toEqual([1, 1]);

  settings.day2.autoApply = 'no-reboot'; // a SIGHUP writes live keys into this object
  site.writeInventory({ ...edit, w1: [{ machine: { nodeLabels: { rack: 'r8' } } }] });
  watcher.reload();
  await waitFor(() => day2.autoApply.last.length === 2, 10_000, 'the auto-apply run');
  expect(day2.autoApply.last.map((o) => [o.node, o.kind])).toEqual([['w1', 'applied'], ['cp1', 'needs-reboot']]);
  expect([applied('cp1'), applied('w1')]).toEqual([1, 2]);
  expect(rack.fakes.get('w1')!.applied.at(-1)!.mode).toBe('NO_REBOOT');
  expect(rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'day2').at(-1)!.data).toMatchObject({ actor: 'auto-apply', mode: 'NO_REBOOT' });

  // The page's plan for cp1 still shows its pending reboot change.
  const plan = await day2.plan('cp1');
  expect(plan.config).toMatchObject({ mode: 'REBOOT' });
  expect(plan.config.diff).toMatch(/^\+\s+HTTP_PROXY: http:\/\/proxy:3128$/m);

  // The page's apply of that reboot meets the upgrade's etcd quorum gate first: cp1 is the only
  // control plane, and the page does not let a one-member etcd go down; nothing is sent.
  const held = await day2.apply('cp1', 'admin-page');
  expect(held).toEqual([{ node: 'cp1', kind: 'held', reason: expect.stringMatching(/^cp1: quorum gate: /) }]);
  expect(applied('cp1')).toBe(1);
}, 60_000);
