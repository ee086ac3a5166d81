// Config applies that reboot control planes, behind the etcd quorum gate of
// the upgrade rollout, against fake nodes whose control planes run a real
// etcd (Debian etcd-server): a rebooting apply takes the node's member down.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { quorumHealthGate, quorumRebootGate, storeControlPlanes, type QuorumGateDeps } from '../../src/day2/config-gates.js';
import { ConfigRollout } from '../../src/day2/config-rollout.js';
import type { DesiredState } from '../../src/day2/ports.js';
import { talosConfigPort } from '../../src/day2/talos-port.js';
import type { Inventory } from '../../src/inventory/types.js';
import { Store, type NodeRecord } from '../../src/store/store.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { makeEtcdRack, type EtcdRack } from './etcd-rack.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

function inventory(names: string[]): Inventory {
  return {
    cluster: { name: 'rack', controlPlaneEndpoint: 'https://127.0.0.1:6443', talosVersion: 'v1.13.0', schematic: { extensions: [], extraKernelArgs: [] }, cni: 'flannel', configMode: 'push', patches: { all: [], controlplane: [], worker: [] } },
    nodes: names.map((name, i) => ({ name, mac: `52:54:00:00:03:${(0x10 + i).toString(16)}`, role: name.startsWith('cp') ? 'controlplane' : 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] })),
  } as Inventory;
}

async function setup(cps: number, workers: number, firstHost: number): Promise<{ rack: EtcdRack; store: Store; rollout: (opts?: { allowSingleMember?: boolean }) => ConfigRollout }> {
  const rack = await makeEtcdRack(cps, workers, { firstHost });
  const dir = mkdtempSync(join(tmpdir(), 'rb-config-gates-'));
  const store = new Store(join(dir, 'rackboot.db'));
  const names = [...rack.fakes.keys()];
  store.syncInventory(inventory(names));
  for (const n of names) store.setState(n, 'installed', 'test');
  cleanup = async () => { store.close(); await rack.close(); rmSync(dir, { recursive: true, force: true }); };
  const endpointOf = (n: NodeRecord) => rack.fakes.get(n.name)?.endpoint;
  // An inventory edit Talos applies only with a reboot (machine.env is not in CanApplyImmediate's list).
  const desired: DesiredState = async (node) => {
    const doc = parse(minimalMachineConfig({ type: node.role, osCaPem: rack.pki.osCa.crt, hostname: node.name }).toString());
    doc.machine.env = { HTTP_PROXY: 'http://proxy:3128' };
    return { config: Buffer.from(stringify(doc)), talosVersion: 'v1.13.0', schematic: 's', kubernetesVersion: '1.35.0' };
  };
  const rollout = (opts: { allowSingleMember?: boolean } = {}) => {
    const g: QuorumGateDeps = { connect: rack.connect, endpointOf, controlPlanes: storeControlPlanes(store, endpointOf), timeoutMs: 15_000, intervalMs: 100, ...opts };
    return new ConfigRollout({ store, desired, port: talosConfigPort(rack.connect, endpointOf), gate: quorumHealthGate(g), beforeReboot: quorumRebootGate(g), actor: 'test' });
  };
  return { rack, store, rollout };
}

/** Applies each fake took after the one that configured it. */
const sent = (rack: EtcdRack) => Object.fromEntries([...rack.fakes].map(([n, f]) => [n, f.applied.length - 1]));

it('reboots control planes one at a time, each only with etcd quorum kept without it, and waits for its real member to rejoin', async () => {
  const { rack, rollout } = await setup(3, 1, 181);
  // While one node is gated (down, or back but its etcd member not yet healthy), no other has been sent its config.
  const seen: string[] = [];
  for (const [name, f] of rack.fakes) {
    const orig = f.accept.bind(f);
    f.accept = (...a) => {
      seen.push(`${name} (running etcd members: ${rack.etcd.names().filter((m) => rack.etcd.running(m)).join(',')})`);
      return orig(...a);
    };
  }
  const out = await rollout().run('all');
  expect(out.map((o) => [o.node, o.kind, 'mode' in o ? o.mode : ''])).toEqual([
    ['cp1', 'applied', 'REBOOT'], ['cp2', 'applied', 'REBOOT'], ['cp3', 'applied', 'REBOOT'], ['w1', 'applied', 'REBOOT'],
  ]);
  // Every apply found all three members running: the previous control plane's member was back before the next went down.
  expect(seen).toEqual(['cp1', 'cp2', 'cp3', 'w1'].map((n) => `${n} (running etcd members: cp1,cp2,cp3)`));
  for (const o of out.slice(0, 3)) expect(o).toMatchObject({ gate: expect.stringContaining('etcd: 3 member(s) healthy') });
  await rack.etcd.waitHealthy(['cp1', 'cp2', 'cp3'], 10_000);
}, 120_000);

it('holds a rebooting apply before a control plane goes down when a real etcd member is dead; nothing is sent', async () => {
  const { rack, store, rollout } = await setup(3, 1, 191);
  await rack.etcd.kill('cp3');
  const out = await rollout().run('all');
  expect(out.map((o) => o.kind)).toEqual(['held', 'held', 'held', 'held']);
  expect(out[0]).toMatchObject({ node: 'cp1', reason: expect.stringMatching(/^cp1: quorum gate: etcd member\(s\) not healthy: cp3/) });
  expect(sent(rack)).toEqual({ cp1: 0, cp2: 0, cp3: 0, w1: 0 });
  expect(store.events({ node: 'cp1' }).some((e) => e.kind === 'day2' && e.message.startsWith('rollout held before its rebooting apply: quorum gate'))).toBe(true);
}, 90_000);

it('refuses a rebooting apply on a 2-member etcd, and on a 1-member one unless allowed', async () => {
  const two = await setup(2, 0, 201);
  const out = await two.rollout().run(['cp1']);
  expect(out).toEqual([{ node: 'cp1', kind: 'held', reason: expect.stringMatching(/^cp1: quorum gate: etcd has 2 members/) }]);
  expect(sent(two.rack)).toEqual({ cp1: 0, cp2: 0 });
  await cleanup!();

  const one = await setup(1, 0, 211);
  expect(await one.rollout().run('all')).toEqual([{ node: 'cp1', kind: 'held', reason: expect.stringMatching(/one-member etcd is down while its node reboots/) }]);
  expect(sent(one.rack)).toEqual({ cp1: 0 });
  const allowed = await one.rollout({ allowSingleMember: true }).run('all');
  expect(allowed).toEqual([expect.objectContaining({ node: 'cp1', kind: 'applied', mode: 'REBOOT', gate: expect.stringContaining('etcd: 1 member(s) healthy') })]);
}, 120_000);

it('the control planes to ask are read by role, in every state and in inventory order, without reading the workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-config-gates-'));
  const store = new Store(join(dir, 'rackboot.db'));
  cleanup = async () => { store.close(); rmSync(dir, { recursive: true, force: true }); };
  store.syncInventory(inventory(['cp1', 'w1', 'cp2', 'w2', 'cp3']));
  store.setState('cp2', 'failed', 'test');
  store.setState('cp3', 'ready', 'test');
  const listNodes = vi.spyOn(store, 'listNodes');
  const planes = storeControlPlanes(store, (n) => (n.name === 'cp3' ? undefined : `${n.name}.test:50000`))();
  expect(planes).toEqual([{ name: 'cp1', endpoint: 'cp1.test:50000' }, { name: 'cp2', endpoint: 'cp2.test:50000' }]);
  expect(listNodes).not.toHaveBeenCalled();
});
