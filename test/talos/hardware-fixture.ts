// A machine with three disks of three transports, as the QEMU e2e describes one.
import { expect } from 'vitest';
import type { FakeDisk } from '../fakes/talos-node.js';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

export const THREE_DISKS: FakeDisk[] = [
  { device_name: 'nvme0n1', size: 512e9, model: 'QEMU NVMe Ctrl', serial: 'NVME-SYS-1', wwid: 'eui.0000000000000001', transport: 'nvme' },
  { device_name: 'vda', size: 2e12, model: '', serial: 'DATA-A', transport: 'virtio', rotational: true },
  { device_name: 'sda', size: 1e12, model: 'SLOWDISK', serial: 'DATA-B', transport: 'scsi', rotational: true },
];

/**
 * w1 on the three-disk machine with this wipe policy, installed on its NVMe
 * disk, then marked for reimage. `beforeInstall` sees the rack first (e.g.
 * to put image files behind the disks).
 */
export async function installedOnNvmeThenMarked(wipe?: object, beforeInstall?: (r: Rack) => void): Promise<Rack> {
  const r = await makeRack(['worker']);
  r.fakes.get('w1')!.opts.disks = THREE_DISKS;
  beforeInstall?.(r);
  r.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.installDisk','/dev/nvme0n1') WHERE name='w1'").run();
  if (wipe) r.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.wipe',json(?)) WHERE name='w1'").run(JSON.stringify(wipe));
  pxeBooted(r, 'w1');
  for (let i = 0; i < 60 && r.store.getNode('w1')!.state !== 'installed'; i++) {
    await r.onePass();
    await new Promise((res) => setTimeout(res, 20));
  }
  expect(r.store.getNode('w1')!.state).toBe('installed');
  r.store.setState('w1', 'reimage-pending', 'operator asked (test)');
  return r;
}
