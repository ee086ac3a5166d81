// discovery.commission: an unknown machine gets the Talos kernel in
// maintenance mode with no talos.config=, and is recorded for reading;
// without the setting, it gets the unknown-machine script as before.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { writeSightings, testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { commissionRecord } from '../../../src/store/discovered-hardware.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
});
afterEach(async () => a.close());

const UNKNOWN = '52:54:00:aa:bb:cc';
const get = (url: string) => a.app.inject({ method: 'GET', url, remoteAddress: '10.77.0.99' });

it('serves an unknown machine the Talos kernel with no config URL and records the commissioning boot', async () => {
  a.settings.discovery.commission = true;
  const res = await get(`/ipxe?mac=${UNKNOWN}&arch=x86_64`);
  expect(res.statusCode).toBe(200);
  const kernelLine = res.body.split('\n').find((l) => l.startsWith('kernel '))!;
  expect(kernelLine).toMatch(/\/v1\.11\.5\/kernel-amd64 initrd=initramfs-amd64\.xz /);
  expect(kernelLine.split(' ')).toContain('talos.platform=metal');
  expect(res.body).not.toContain('talos.config=');
  expect(res.body).not.toContain('token=');
  expect(res.body).toContain(`commissioning ${UNKNOWN}`);
  expect(commissionRecord(a.store.db, UNKNOWN)).toMatchObject({ state: 'booting', facts: null });
  writeSightings(a);
  expect(a.store.listDiscovered().map((d) => d.mac)).toEqual([UNKNOWN]);
  expect(a.store.nodeByMac(UNKNOWN)).toBeUndefined();
  expect(a.store.events({ mac: UNKNOWN }).map((e) => e.message)).toContain(`commissioning ${UNKNOWN}: served Talos v1.11.5 (amd64) maintenance mode with no config, to read its hardware`);
  // Nor can it fetch one: the config endpoint knows no node by this MAC.
  const config = await get(`/config?mac=${UNKNOWN}`);
  expect(config.statusCode).not.toBe(200);
  expect(config.body).not.toMatch(/machine:/);
});

it('keeps the commissioning row of a machine whose discovered row is not written yet (its first contact is the script request)', async () => {
  // The daemon writes sightings after the turn that answered them; with no DHCP of ours before it (another
  // DHCP server chains to our URL), the machine has no discovered row when its commissioning boot prunes.
  const other = '52:54:00:aa:bb:01';
  a.settings.discovery.commission = true;
  await get(`/ipxe?mac=${other}&arch=x86_64`);
  writeSightings(a);
  a.store.db.prepare('DELETE FROM discovered WHERE mac = ?').run(other); // the discovered list dropped it (it keeps the most recent)
  const res = await get(`/ipxe?mac=${UNKNOWN}&arch=x86_64`);
  expect(res.body).toContain(`commissioning ${UNKNOWN}`);
  expect(a.store.listDiscovered().map((d) => d.mac)).not.toContain(UNKNOWN);
  expect(commissionRecord(a.store.db, UNKNOWN)).toMatchObject({ state: 'booting' });
  // The prune still bounds the table: the row whose discovered row is gone went with it.
  expect(commissionRecord(a.store.db, other)).toBeUndefined();
  writeSightings(a);
  expect(a.store.listDiscovered().map((d) => d.mac)).toEqual([UNKNOWN]);
});

it('without discovery.commission an unknown machine gets no kernel', async () => {
  const res = await get(`/ipxe?mac=${UNKNOWN}&arch=x86_64`);
  expect(res.body).toContain(`${UNKNOWN} is not in the inventory`);
  expect(res.body).not.toMatch(/^kernel /m);
  expect(commissionRecord(a.store.db, UNKNOWN)).toBeUndefined();
});

it('falls back to the unknown-machine script when the boot assets are not cached', async () => {
  a.settings.discovery.commission = true;
  const res = await get(`/ipxe?mac=${UNKNOWN}&arch=arm64`);
  expect(res.body).toContain(`${UNKNOWN} is not in the inventory`);
  expect(res.body).not.toMatch(/^kernel /m);
  expect(commissionRecord(a.store.db, UNKNOWN)).toBeUndefined();
});

it('an inventory node is still served as before: commissioning touches unknown MACs only', async () => {
  a.settings.discovery.commission = true;
  const res = await a.app.inject({ method: 'GET', url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64', remoteAddress: '10.77.0.11' });
  expect(res.body).not.toContain('commissioning');
  expect(res.body).toMatch(/^kernel /m);
  expect(commissionRecord(a.store.db, '52:54:00:12:34:01')).toBeUndefined();
});
