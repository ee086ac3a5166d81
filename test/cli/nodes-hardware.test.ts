// `rackboot nodes NODE --hardware`: what was read, when, as text and JSON.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { nodes } from '../../src/cli/nodes.js';
import { Store } from '../../src/store/store.js';
import { recordHardware } from '../../src/store/hardware.js';
import { runCommand, scratchSite } from './run-command.js';

const FACTS = {
  disks: [{ id: 'sda', devPath: '/dev/sda', size: 480e9, model: 'INTEL SSDSC2KB48', serial: 'BTYF1234', wwid: 'naa.55cd2e4150', transport: 'sata', rotational: false, readonly: false, cdrom: false, busPath: '' }],
  system: { manufacturer: 'Supermicro', productName: 'SYS-1029', version: '', serialNumber: 'S9', uuid: '00000000-0000-0000-0000-0cc47a000001' },
  processors: [], memory: [], pci: [],
  links: [{ id: 'eno1', hardwareAddr: 'ac:1f:6b:00:00:01', permanentAddr: 'ac:1f:6b:00:00:01', driver: 'igb', speedMbit: 1000, linkState: true, operationalState: 'up', busPath: '' }],
};

it('prints the facts and when they were read; says so for a node not read yet; refuses an unknown node', async () => {
  const site = scratchSite();
  const base = ['--config', site.config];
  expect((await runCommand(nodes, [...base, 'cp-1', '--hardware'])).out).toBe('cp-1: no hardware facts yet (read the next time the node is in Talos maintenance mode)');

  const store = new Store(join(site.dataDir, 'rackboot.db'));
  recordHardware(store.db, { node: 'cp-1', mac: 'ac:1f:6b:00:00:01', endpoint: '10.0.0.11:50000', readAt: Date.UTC(2026, 11, 2, 9, 30), facts: FACTS });
  store.close();

  const text = await runCommand(nodes, [...base, 'cp-1', '--hardware']);
  expect(text.code).toBe(0);
  expect(text.out).toContain('cp-1: read 2026-12-02T09:30:00.000Z from 10.0.0.11:50000');
  expect(text.out).toContain('system: Supermicro SYS-1029; serial S9; uuid 00000000-0000-0000-0000-0cc47a000001');
  expect(text.out).toMatch(/\/dev\/sda\s+480 GB\s+INTEL SSDSC2KB48\s+BTYF1234\s+naa\.55cd2e4150\s+sata\s+no/);
  expect(text.out).toMatch(/eno1\s+ac:1f:6b:00:00:01\s+ac:1f:6b:00:00:01\s+igb\s+1000Mb\/s\s+up/);

  const json = JSON.parse((await runCommand(nodes, [...base, 'cp-1', '--hardware', '--json'])).out) as { readAt: string; disks: { serial: string }[] };
  expect(json.readAt).toBe('2026-12-02T09:30:00.000Z');
  expect(json.disks[0]!.serial).toBe('BTYF1234');

  const unknown = await runCommand(nodes, [...base, 'nope', '--hardware']);
  expect(unknown.code).toBe(1);
  expect(unknown.err).toBe('rackboot: no such node: nope');
  expect((await runCommand(nodes, [...base, 'cp-1'])).code).toBe(2);
});
