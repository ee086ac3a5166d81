// First contact reads the node's hardware facts from maintenance mode and
// keeps them per node with the time read; a node that will not tell still
// gets its config.
import { afterEach, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { nodeHardware } from '../../src/store/hardware.js';
import { makeRack, w1AfterOnePass, type Rack } from './cluster-fixture.js';
import { THREE_DISKS } from './hardware-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const pass = w1AfterOnePass;

it('stores the facts of a node in maintenance, with when and where they were read', async () => {
  rack = await makeRack(['worker']);
  const fake = rack.fakes.get('w1')!;
  fake.opts.disks = THREE_DISKS;
  fake.opts.machine = { system: { manufacturer: 'Lab', productName: 'R-1', serialNumber: 'SN-7' } };
  const before = Date.now();
  const events = await pass(rack);
  const hw = nodeHardware(rack.store.db, 'w1')!;
  expect(hw).toMatchObject({ node: 'w1', endpoint: fake.endpoint });
  expect(hw.readAt).toBeGreaterThanOrEqual(before);
  expect(hw.facts.disks.map((d) => d.devPath)).toEqual(['/dev/nvme0n1', '/dev/sda', '/dev/vda']);
  expect(hw.facts.system?.serialNumber).toBe('SN-7');
  expect(events.find((m) => m.startsWith('hardware facts read: '))).toBe(
    'hardware facts read: Lab R-1 (serial SN-7); 1 CPU(s), 2 cores; 2048 MiB RAM; disks: /dev/nvme0n1 512 GB nvme, /dev/sda 1.0 TB scsi, /dev/vda 2.0 TB virtio; NICs: 52:54:00:12:34:56');
  expect(rack.store.getNode('w1')!.state).toBe('installing');
});

it('a node that refuses the resource API still gets its config, and the event says why there are no facts', async () => {
  rack = await makeRack(['worker']);
  rack.fakes.get('w1')!.faults.status.ResourceList = { code: grpc.status.PERMISSION_DENIED, details: 'resource type "Disks.block.talos.dev" is not supported', times: 1 };
  const events = await pass(rack);
  expect(nodeHardware(rack.store.db, 'w1')).toBeUndefined();
  expect(events.some((m) => m.startsWith('hardware facts not read: ') && m.includes('is not supported'))).toBe(true);
  expect(rack.store.getNode('w1')!.state).toBe('installing');
});

it('resolves an install-disk selector against the facts, records the choice, and the config names that disk', async () => {
  rack = await makeRack(['worker']);
  rack.fakes.get('w1')!.opts.disks = THREE_DISKS;
  rack.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.installDisk',json(?)) WHERE name='w1'").run(JSON.stringify({ rotational: true, size: '>= 1.5TB' }));
  const events = await pass(rack);
  expect(events).toContain('install disk selector {rotational: true, size: ">= 1.5TB"} chose /dev/vda (2.0 TB, serial DATA-A, virtio, rotational)');
  expect(nodeHardware(rack.store.db, 'w1')!.installDisk?.path).toBe('/dev/vda');
  const sent = rack.fakes.get('w1')!.applied.map((a) => a.data.toString());
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatch(/disk: \/dev\/vda/);
});

it('an ambiguous selector fails the node with the candidates and sends no config', async () => {
  rack = await makeRack(['worker']);
  rack.fakes.get('w1')!.opts.disks = THREE_DISKS;
  rack.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.installDisk',json(?)) WHERE name='w1'").run(JSON.stringify({ rotational: true }));
  await pass(rack);
  const n = rack.store.getNode('w1')!;
  expect(n.state).toBe('failed');
  expect(n.stateReason).toBe('install disk selector {rotational: true} matches 2 disks: /dev/sda (1.0 TB, model SLOWDISK, serial DATA-B, scsi, rotational); '
    + '/dev/vda (2.0 TB, serial DATA-A, virtio, rotational); add serial or wwid to pick one');
  expect(rack.fakes.get('w1')!.applied).toHaveLength(0);
  expect(nodeHardware(rack.store.db, 'w1')!.installDisk).toBeNull();
});
