// The discovered list on the page, in the API and in `rackboot discovered`
// shows what commissioning read, and the snippet carries the selector.
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { recordCommissionBoot, recordCommissionFacts } from '../../../src/store/discovered-hardware.js';
import { discovered } from '../../../src/cli/discovered.js';
import { Store } from '../../../src/store/store.js';
import { runCommand, scratchSite } from '../../cli/run-command.js';
import { COMMISSIONED_FACTS, COMMISSIONED_MAC } from '../../lifecycle/commission-fixture.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
});
afterEach(async () => a.close());

function commissioned(store: Store, read = true): void {
  store.recordDiscovered({ mac: COMMISSIONED_MAC, source: 'http', arch: 'x86_64' });
  recordCommissionBoot(store.db, COMMISSIONED_MAC, Date.now());
  if (read) recordCommissionFacts(store.db, COMMISSIONED_MAC, '10.77.0.99:50000', COMMISSIONED_FACTS, Date.now());
}

const SNIPPET = `- name: node-525400aabbcc\n  mac: ${COMMISSIONED_MAC}\n  role: worker\n  installDisk:\n    serial: BTYF1234\n`;

it('GET /api/discovered and the snippet route carry the facts and the selector', async () => {
  commissioned(a.store);
  const res = await a.admin.inject({ method: 'GET', url: '/api/discovered', headers: ADMIN_HEADERS });
  expect(res.statusCode).toBe(200);
  const [d] = res.json() as { commission: { state: string; installDisk: string; cabledMac: string; facts: { system: { serialNumber: string } } }; snippet: string }[];
  expect(d!.commission).toMatchObject({ state: 'read', cabledMac: COMMISSIONED_MAC, installDisk: '/dev/sdb (480 GB, model INTEL SSD, serial BTYF1234, sata)' });
  expect(d!.commission.facts.system.serialNumber).toBe('S9');
  expect(d!.snippet).toBe(SNIPPET);
  const snip = await a.admin.inject({ method: 'GET', url: '/api/discovered/snippet', headers: ADMIN_HEADERS });
  expect(snip.body).toBe(SNIPPET);
});

it('the page shows the summary and the install disk, escaped, and "commissioning" while not read', async () => {
  commissioned(a.store);
  const page = (await a.admin.inject({ method: 'GET', url: '/ui', headers: ADMIN_HEADERS })).body;
  expect(page).toContain('<span data-commission-summary>Supermicro SYS-1029 (serial S9);');
  expect(page).toContain('/dev/sda 4.0 TB sata');
  expect(page).toContain('install disk: /dev/sdb (480 GB, model INTEL SSD, serial BTYF1234, sata)');
  expect(page).toContain('serial: BTYF1234');

  recordCommissionBoot(a.store.db, COMMISSIONED_MAC, Date.now());
  const booting = (await a.admin.inject({ method: 'GET', url: '/ui', headers: ADMIN_HEADERS })).body;
  expect(booting).toContain('<span class="badge">commissioning</span>');
});

it('rackboot discovered prints the facts and the snippet with the selector', async () => {
  const site = scratchSite();
  const store = new Store(join(site.dataDir, 'rackboot.db'));
  commissioned(store);
  store.close();
  const r = await runCommand(discovered, ['--config', site.config]);
  expect(r.code).toBe(0);
  expect(r.out).toContain(`${COMMISSIONED_MAC}: Supermicro SYS-1029 (serial S9);`);
  expect(r.out).toContain(`  install disk: /dev/sdb (480 GB, model INTEL SSD, serial BTYF1234, sata); cabled NIC ${COMMISSIONED_MAC}; in maintenance mode until adopted`);
  expect(r.out).toContain('  installDisk:\n    serial: BTYF1234');
});
