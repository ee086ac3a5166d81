// The inventory entry a commissioned machine's facts suggest: the install
// disk rackboot would pick, named by a selector that matches it alone, and
// the NIC it is cabled on.
import { expect, it } from 'vitest';
import { cabledMac, commissionedEntry, pickInstallDisk, uniqueSelector } from '../../src/lifecycle/commission-snippet.js';
import { selectDisk } from '../../src/talos/disk-selector.js';
import type { DiskFact, HardwareFacts, LinkFact } from '../../src/talos/hardware.js';

const disk = (id: string, over: Partial<DiskFact>): DiskFact => ({
  id, devPath: `/dev/${id}`, size: 0, model: '', serial: '', wwid: '', transport: 'sata', rotational: false, readonly: false, cdrom: false, busPath: '', ...over,
});
const link = (id: string, mac: string, up: boolean): LinkFact => ({
  id, hardwareAddr: mac, permanentAddr: mac, driver: 'virtio_net', speedMbit: 1000, linkState: up, operationalState: up ? 'up' : 'down', busPath: '',
});
const facts = (disks: DiskFact[], links: LinkFact[] = []): HardwareFacts => ({ disks, system: null, processors: [], memory: [], pci: [], links });

const RACK = [
  disk('sda', { size: 4e12, model: 'BIGSPIN', serial: 'HDD-1', rotational: true }),
  disk('nvme0n1', { size: 960e9, model: 'FASTSSD', serial: 'SSD-1', transport: 'nvme' }),
  disk('nvme1n1', { size: 480e9, model: 'FASTSSD', serial: 'SSD-2', transport: 'nvme' }),
  disk('sdb', { size: 8e12, model: 'STICK', serial: 'USB-1', transport: 'usb' }),
  disk('sr0', { size: 1e9, cdrom: true }),
];

it('picks the largest fixed solid-state disk: not the bigger spinning disk, USB stick or CD-ROM', () => {
  expect(pickInstallDisk(RACK)?.devPath).toBe('/dev/nvme0n1');
});

it('falls back to the largest spinning disk when there is no solid-state one, and to nothing without a fixed disk', () => {
  expect(pickInstallDisk([RACK[0]!, disk('sdc', { size: 2e12, rotational: true, serial: 'HDD-2' })])?.devPath).toBe('/dev/sda');
  expect(pickInstallDisk([RACK[3]!, RACK[4]!])).toBeUndefined();
});

it('names the disk by serial when that is unique, and the selector resolves to exactly that disk', () => {
  const s = uniqueSelector(RACK[1]!, RACK);
  expect(s).toEqual({ serial: 'SSD-1' });
  const m = selectDisk(s as object, RACK);
  expect(m.kind === 'one' && m.disk.devPath).toBe('/dev/nvme0n1');
});

it('uses wwid when the serial is shared, model and size when both are missing, the path as last resort', () => {
  const twins = [disk('sda', { size: 1e12, serial: 'SAME', wwid: 'naa.5000c5001', model: 'M' }), disk('sdb', { size: 1e12, serial: 'SAME', wwid: 'naa.5000c5002', model: 'M' })];
  expect(uniqueSelector(twins[1]!, twins)).toEqual({ wwid: 'naa.5000c5002' });
  const bare = [disk('vda', { size: 2e12, model: 'VIRT' }), disk('vdb', { size: 1e12, model: 'VIRT' })];
  expect(uniqueSelector(bare[1]!, bare)).toEqual({ model: 'VIRT', size: '1000000000000' });
  const same = [disk('vda', { size: 1e12, model: 'VIRT' }), disk('vdb', { size: 1e12, model: 'VIRT' })];
  expect(uniqueSelector(same[0]!, same)).toBe('/dev/vda');
});

it('the cabled NIC is the one that booted, unless Talos sees its link down and exactly one other up', () => {
  const two = [link('enp1s0', '52:54:00:00:00:01', true), link('enp2s0', '52:54:00:00:00:02', false)];
  expect(cabledMac('52:54:00:00:00:01', facts([], two))).toBe('52:54:00:00:00:01');
  const moved = [link('enp1s0', '52:54:00:00:00:01', false), link('enp2s0', '52:54:00:00:00:02', true)];
  expect(cabledMac('52:54:00:00:00:01', facts([], moved))).toBe('52:54:00:00:00:02');
  expect(cabledMac('52:54:00:00:00:09', facts([], moved))).toBe('52:54:00:00:00:09');
});

it('an entry with no fixed disk keeps the /dev/sda placeholder', () => {
  expect(commissionedEntry('52:54:00:00:00:01', facts([RACK[4]!])).installDisk).toBe('/dev/sda');
});
