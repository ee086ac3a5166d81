// The node page's hardware panel and the node API carry the facts last read
// from maintenance mode, escaped, with the time they were read.
import { expect, it } from 'vitest';
import { harness, login } from './harness.js';
import { recordHardware, recordInstallDisk } from '../../../src/store/hardware.js';
import type { HardwareFacts } from '../../../src/talos/hardware.js';

const READ_AT = Date.UTC(2026, 11, 2, 10, 0, 0);
const FACTS: HardwareFacts = {
  disks: [
    { id: 'nvme0n1', devPath: '/dev/nvme0n1', size: 512e9, model: 'Samsung <b>PM9A3</b>', serial: 'S64', wwid: 'eui.1', transport: 'nvme', rotational: false, readonly: false, cdrom: false, busPath: '' },
    { id: 'sda', devPath: '/dev/sda', size: 4e12, model: 'HGST', serial: 'H1', wwid: '', transport: 'sata', rotational: true, readonly: false, cdrom: false, busPath: '' },
  ],
  system: { manufacturer: 'Dell Inc.', productName: 'PowerEdge R650', version: '', serialNumber: 'ABC123', uuid: '4c4c4544-0042' },
  processors: [{ id: 'CPU-1', manufacturer: 'Intel', productName: 'Xeon', coreCount: 16, threadCount: 32, maxSpeedMhz: 3500 }],
  memory: [{ id: 'A1', sizeMiB: 32768, speed: 3200, manufacturer: 'Micron', productName: '' }],
  pci: [],
  links: [{ id: 'eno1', hardwareAddr: '52:54:00:00:00:01', permanentAddr: '52:54:00:00:00:01', driver: 'ice', speedMbit: 25000, linkState: true, operationalState: 'up', busPath: '' }],
};

it('shows disks, links and system facts with the time read, and says so when nothing was read yet', async () => {
  const h = await harness();
  try {
    const { cookie } = await login(h.app);
    const before = (await h.app.inject({ url: '/ui/nodes/cp-1', headers: { cookie } })).body;
    expect(before).toContain('id="hardware"');
    expect(before).toContain('Not read yet');

    recordHardware(h.store.db, { node: 'cp-1', mac: '52:54:00:00:00:01', endpoint: '10.0.0.11:50000', readAt: READ_AT, facts: FACTS });
    const page = (await h.app.inject({ url: '/ui/nodes/cp-1', headers: { cookie } })).body;
    expect(page).toContain('Read <span title="2026-12-02 10:00:00Z">');
    expect(page).toMatch(/<tr data-disk="\/dev\/nvme0n1"><td><code>\/dev\/nvme0n1<\/code><\/td><td>512 GB<\/td><td>Samsung &lt;b&gt;PM9A3&lt;\/b&gt;<\/td><td><code>S64<\/code>/);
    expect(page).toContain('<td>sata</td><td>yes</td>');
    expect(page).toContain('<code>ABC123</code>');
    expect(page).toContain('1 socket(s), 16 cores, 32 threads');
    expect(page).toContain('<td>25000 Mbit/s</td><td>link up (up)</td>');
    expect(page).not.toContain('<b>PM9A3');
    expect(page).not.toContain('Install disk');
    recordInstallDisk(h.store.db, 'cp-1', '/dev/nvme0n1', READ_AT + 1000);
    const chosen = (await h.app.inject({ url: '/ui/nodes/cp-1', headers: { cookie } })).body;
    expect(chosen).toContain('<dt>Install disk</dt><dd><code>/dev/nvme0n1</code> <span class="muted small">chosen by the inventory\'s selector, 2026-12-02 10:00:01Z</span>');

    const api = (await h.app.inject({ url: '/api/nodes/cp-1', headers: { cookie } })).json() as { hardware: { readAt: number; facts: HardwareFacts } };
    expect(api.hardware.readAt).toBe(READ_AT);
    expect(api.hardware.facts.disks.map((d) => d.serial)).toEqual(['S64', 'H1']);
  } finally {
    await h.close();
  }
});
