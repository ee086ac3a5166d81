// rackboot remove against fake nodes over a real etcd: the real cluster shrinks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { removeNode, RemoveError, type RemoveDeps } from '../../src/day2/remove.js';
import type { Inventory } from '../../src/inventory/types.js';
import { Store } from '../../src/store/store.js';
import { TalosClient, talosAnswers } from '../../src/talos/client.js';
import { makeEtcdRack, type EtcdRack } from './etcd-rack.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => { await cleanup?.(); cleanup = undefined; });

function inventory(names: string[]): Inventory {
  return {
    cluster: { name: 'rack', controlPlaneEndpoint: 'https://127.0.0.1:6443', talosVersion: 'v1.13.0', schematic: { extensions: [], extraKernelArgs: [] }, cni: 'flannel', configMode: 'push', patches: { all: [], controlplane: [], worker: [] } },
    nodes: names.map((name, i) => ({ name, mac: `52:54:00:00:02:${(0x10 + i).toString(16)}`, role: name.startsWith('cp') ? 'controlplane' : 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] })),
  } as Inventory;
}

async function setup(firstHost: number): Promise<{ rack: EtcdRack; store: Store; deps: RemoveDeps }> {
  const rack = await makeEtcdRack(3, 1, { firstHost });
  const dir = mkdtempSync(join(tmpdir(), 'rb-remove-'));
  const store = new Store(join(dir, 'rackboot.db'));
  store.syncInventory(inventory(['cp1', 'cp2', 'cp3', 'w1']));
  for (const n of ['cp1', 'cp2', 'cp3', 'w1']) store.setState(n, 'installed', 'test');
  cleanup = async () => { store.close(); await rack.close(); rmSync(dir, { recursive: true, force: true }); };
  const deps: RemoveDeps = {
    store, connect: (ep) => TalosClient.configured(ep, rack.admin, { policy: { timeoutMs: 15_000, retries: 0 } }),
    endpointOf: (n) => rack.fakes.get(n)?.endpoint,
    inMaintenance: (ep) => talosAnswers(() => TalosClient.maintenance(ep, { policy: { timeoutMs: 1000, retries: 0 } }), (c) => c.disks()),
    maintenanceTimeoutMs: 5000, pollMs: 50,
  };
  return { rack, store, deps };
}

it('removes a control plane: it leaves the real etcd, is reset gracefully into maintenance, and is forgotten', async () => {
  const { rack, store, deps } = await setup(161);
  await expect(removeNode(deps, 'cp3')).rejects.toThrow(/still in the inventory/);
  expect(rack.fakes.get('cp3')!.resets).toHaveLength(0);
  store.syncInventory(inventory(['cp1', 'cp2', 'w1']));
  const steps = await removeNode(deps, 'cp3');
  expect(steps.join('\n')).toMatch(/cp3 left etcd[\s\S]*Reset sent[\s\S]*maintenance mode[\s\S]*forgot cp3/);
  expect((await rack.etcd.memberList('cp1')).map((m) => m.name).sort()).toEqual(['cp1', 'cp2']);
  expect(rack.fakes.get('cp3')!.resets).toEqual([expect.objectContaining({ graceful: true })]);
  expect(rack.fakes.get('cp3')!.mode).toBe('maintenance');
  expect(store.getNode('cp3')).toBeUndefined();
  expect(store.getNode('cp1')).toBeDefined();
}, 90_000);

it('refuses a removal that would leave etcd without a healthy majority; --force removes a dead member by ID', async () => {
  const { rack, store, deps } = await setup(171);
  store.syncInventory(inventory(['cp1', 'cp2', 'w1']));
  // cp2 dead: without cp3, 1 of 2 members would be healthy.
  await rack.etcd.kill('cp2');
  await expect(removeNode(deps, 'cp3')).rejects.toThrow(RemoveError);
  await expect(removeNode(deps, 'cp3')).rejects.toThrow(/without cp3 1 of 2 etcd members are healthy/);
  expect(rack.fakes.get('cp3')!.resets).toHaveLength(0);
  expect((await rack.etcd.memberList('cp1')).map((m) => m.name)).toHaveLength(3);
  rack.etcd.restart('cp2');
  await rack.etcd.waitHealthy(['cp1', 'cp2', 'cp3'], 10_000);
  // cp3 dies for good: --force removes its member through a healthy control plane and sends it nothing.
  await rack.etcd.kill('cp3');
  await rack.fakes.get('cp3')!.stop();
  await rack.etcd.waitHealthy(['cp1', 'cp2'], 10_000);
  const steps = await removeNode(deps, 'cp3', { force: true });
  expect(steps.join('\n')).toMatch(/removed etcd member \d+ \(cp3\) through cp[12]/);
  expect((await rack.etcd.memberList('cp1')).map((m) => m.name).sort()).toEqual(['cp1', 'cp2']);
  expect(rack.fakes.get('cp3')!.resets).toHaveLength(0);
  expect(store.getNode('cp3')).toBeUndefined();
}, 90_000);
