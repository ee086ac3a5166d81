// A machine with several NICs (inventory macs): any of them is the node for
// DHCP, the boot script and the config; the page shows which one booted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { BootAccess } from '../../src/lifecycle/boot-access.js';
import { FakeNeighbours } from '../../src/net/neighbours.js';
import { parseInventory } from '../../src/inventory/load.js';
import { nodeView } from '../../src/http/admin/views.js';
import { nodeSummary } from '../../src/http/admin/render.js';
import type { DhcpMode } from '../../src/settings/settings.js';
import { inventory, nodeSpec } from './fixtures.js';

const NIC1 = '52:54:00:aa:00:01';
const NIC2 = '52:54:00:aa:00:02';
const OTHER = '52:54:00:99:99:99';

const inv = (nodes: string) => `cluster:
  name: c1
  controlPlaneEndpoint: https://10.0.0.1:6443
  talosVersion: v1.12.0
nodes:
${nodes}`;

describe('inventory macs', () => {
  it('takes mac plus macs, or macs alone (the first is the provisioning NIC), normalised', () => {
    const both = parseInventory(inv('  - { name: a, role: worker, mac: 52-54-00-AA-00-02, macs: [52:54:00:aa:00:01, 525400aa0002] }\n'), 'inv.yaml');
    expect(both.ok && both.inventory.nodes[0]).toMatchObject({ mac: NIC2, macs: [NIC2, NIC1] });
    const only = parseInventory(inv('  - { name: a, role: worker, macs: [52:54:00:aa:00:01, 52:54:00:aa:00:02] }\n'), 'inv.yaml');
    expect(only.ok && only.inventory.nodes[0]).toMatchObject({ mac: NIC1, macs: [NIC1, NIC2] });
    const single = parseInventory(inv(`  - { name: a, role: worker, mac: ${NIC1} }\n`), 'inv.yaml');
    expect(single.ok && single.inventory.nodes[0]!.macs).toBeUndefined();
  });

  it('refuses a MAC two nodes claim, through mac or macs, at the second one', () => {
    const r = parseInventory(inv(`  - { name: a, role: worker, mac: ${NIC1} }\n  - { name: b, role: worker, macs: [${OTHER}, ${NIC1}] }\n`), 'inv.yaml');
    expect(r.ok ? [] : r.errors.map((e) => `${e.line}: ${e.message}`)).toEqual([`7: node b: duplicate mac ${NIC1} (first used by node a on line 6): each node needs its own`]);
    const none = parseInventory(inv('  - { name: a, role: worker }\n'), 'inv.yaml');
    expect(none.ok ? [] : none.errors.map((e) => e.message)).toContain('node a: missing required key "mac"');
  });
});

describe('a node with two NICs', () => {
  let store: Store;
  let mode: DhcpMode;
  let access: BootAccess;
  const lease = (mac: string, ip: string, at: number) =>
    store.db.prepare("INSERT OR REPLACE INTO leases (mac, ip, state, expires_at, updated_at) VALUES (?, ?, 'bound', ?, ?)").run(mac, ip, Date.now() + 60_000, at);
  beforeEach(() => {
    store = new Store(':memory:');
    store.syncInventory(inventory([nodeSpec('w1', NIC1, 'worker', { macs: [NIC1, NIC2] })]));
    mode = 'full';
    access = new BootAccess({ store, lifecycle: new Lifecycle(store), dhcpMode: () => mode,
      identity: () => new FakeNeighbours({ '10.0.0.22': NIC2, '10.0.0.99': OTHER }) });
  });
  afterEach(() => store.close());

  it('is found by either MAC, and by neither once removed from the inventory', () => {
    expect(store.nodeByMac(NIC1)?.name).toBe('w1');
    expect(store.nodeByMac(NIC2)?.name).toBe('w1');
    expect(store.nodeByMac(OTHER)).toBeUndefined();
    store.syncInventory(inventory([]));
    expect(store.nodeByMac(NIC2)).toBeUndefined();
  });

  it('is its machine when the second NIC holds the lease (full) or the neighbour entry (proxy); another MAC is refused', () => {
    const w1 = store.getNode('w1')!;
    expect(access.identify(w1, '10.0.0.22')).toEqual({ ok: false, reason: `node w1 (${NIC1} or ${NIC2}) holds no bound lease` });
    lease(NIC2, '10.0.0.22', 1000);
    expect(access.identify(w1, '10.0.0.22')).toEqual({ ok: true, how: 'lease' });
    expect(access.identify(w1, '10.0.0.23')).toEqual({ ok: false, reason: `request from 10.0.0.23, but ${NIC2} is leased 10.0.0.22` });
    mode = 'proxy';
    expect(access.identify(w1, '10.0.0.22')).toEqual({ ok: true, how: 'neighbour' });
    expect(access.identify(w1, '10.0.0.99')).toEqual({ ok: false, reason: `request from 10.0.0.99, whose neighbour entry carries ${OTHER}, not w1's ${NIC1} or ${NIC2}` });
  });

  it('the page says which NIC booted: the one with the latest lease', () => {
    expect(nodeView(store, store.getNode('w1')!).bootMac).toBeNull();
    lease(NIC1, '10.0.0.21', 1000);
    lease(NIC2, '10.0.0.22', 2000);
    const v = nodeView(store, store.getNode('w1')!);
    expect(v).toMatchObject({ macs: [NIC1, NIC2], bootMac: NIC2, ip: '10.0.0.22' });
    expect(String(nodeSummary(v))).toContain(`booted via <code data-boot-mac>${NIC2}</code>`);
  });
});
