import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { storeEndpoints } from '../../src/talos/endpoints.js';
import { PROTO_DIR, talosApi } from '../../src/talos/proto-load.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('finds the Talos API at the inventory IP, else at the bound unexpired lease, else nowhere', () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-ep-'));
  const store = new Store(join(dir, 'db'));
  try {
    const node = (name: string, mac: string, ip?: string) => ({ name, mac, role: 'worker' as const, installDisk: '/dev/sda', bootstrap: false, configMode: 'push' as const, patches: [], ...(ip ? { ip } : {}) });
    store.syncInventory({
      cluster: { name: 'c', controlPlaneEndpoint: 'https://x:6443', talosVersion: 'v1.11.5', schematic: { extensions: [], extraKernelArgs: [] }, cni: 'flannel', configMode: 'push', patches: { all: [], controlplane: [], worker: [] } },
      nodes: [node('a', '52:54:00:00:00:01', '10.0.0.5'), node('b', '52:54:00:00:00:02'), node('c', '52:54:00:00:00:03')],
    });
    const lease = store.db.prepare("INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES (?, ?, 'bound', ?, 0)");
    lease.run('52:54:00:00:00:02', '10.0.0.77', Date.now() + 3_600_000);
    // An expired lease says nothing about where the node is now.
    lease.run('52:54:00:00:00:03', '10.0.0.78', Date.now() - 1);
    const ep = storeEndpoints(store);
    expect(ep(store.getNode('a')!)).toBe('10.0.0.5:50000');
    expect(ep(store.getNode('b')!)).toBe('10.0.0.77:50000');
    expect(ep(store.getNode('c')!)).toBeUndefined();
  } finally {
    store.close();
  }
});

it('loads the proto subset from src/talos/proto relative to the module', () => {
  expect(PROTO_DIR.endsWith('/src/talos/proto/')).toBe(true);
  const api = talosApi();
  expect(Object.keys(api.MachineService.service).sort()).toEqual(
    ['ApplyConfiguration', 'Bootstrap', 'EtcdForfeitLeadership', 'EtcdLeaveCluster', 'EtcdMemberList', 'EtcdRemoveMemberByID', 'EtcdStatus',
      'Hostname', 'ImagePull', 'Kubeconfig', 'Reboot', 'Reset', 'ServiceList', 'Upgrade', 'Version']);
  expect(api.MachineService.service.Kubeconfig!.path).toBe('/machine.MachineService/Kubeconfig');
  expect(api.MachineService.service.Kubeconfig!.responseStream).toBe(true);
  expect(api.StorageService.service.Disks!.path).toBe('/storage.StorageService/Disks');
  expect(api.LifecycleService.service.Upgrade!.path).toBe('/machine.LifecycleService/Upgrade');
  expect(api.LifecycleService.service.Upgrade!.responseStream).toBe(true);
});
