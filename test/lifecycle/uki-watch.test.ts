// A UKI fetch followed by silence is a refused image (Secure Boot); the
// kernel's own DHCP or a state change means it ran.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { sweepSilentUkiFetches, ukiSilenceSeconds } from '../../src/lifecycle/uki-watch.js';
import { pendingUkiFetches, recordUkiFetch } from '../../src/store/uki-fetches.js';
import type { NodeSpec } from '../../src/inventory/types.js';

const spec = (name: string, mac: string): NodeSpec => ({ name, mac, role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [], httpBoot: 'uki', secureBoot: true });

let clock: { t: number };
let store: Store;
let life: Lifecycle;
beforeEach(() => {
  clock = { t: 1_700_000_000_000 };
  store = new Store(':memory:', { now: () => clock.t });
  store.syncInventory({ cluster: { name: 't' } as never, nodes: [spec('sb-1', '52:54:00:12:35:01'), spec('sb-2', '52:54:00:12:35:02')] });
  life = new Lifecycle(store);
});
afterEach(() => store.close());

/** The firmware's DHCP, then its GET of the UKI (as src/http/boot/uki.ts records it). */
function fetchUki(name: string, mac: string) {
  life.sighted({ mac, source: 'dhcp', vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' });
  const node = life.installBootServed(store.getNode(name)!, 'UKI served');
  recordUkiFetch(store.db, { node: name, mac, name: 'metal-amd64-secureboot-uki.efi', servedAt: clock.t, servedTo: '10.77.0.31' }, node.stateSince);
}

describe('silent UKI fetches', () => {
  it('fails a node that fetched its UKI and went silent, naming Secure Boot; not before the time is up', () => {
    fetchUki('sb-1', '52:54:00:12:35:01');
    clock.t += 30_000;
    expect(sweepSilentUkiFetches(life.machine, 60, clock.t)).toEqual([]);
    // The firmware trying again (its own DHCP, another fetch) is not the kernel: the clock keeps the first fetch.
    fetchUki('sb-1', '52:54:00:12:35:01');
    clock.t += 31_000;
    expect(sweepSilentUkiFetches(life.machine, 60, clock.t)).toEqual(['sb-1']);
    const node = store.getNode('sb-1')!;
    expect(node.state).toBe('failed');
    expect(node.failedStep).toBe('booting');
    expect(node.stateReason).toMatch(/fetched its UKI metal-amd64-secureboot-uki\.efi .* nothing followed .*likely refused the image.*Secure Boot/);
    expect(pendingUkiFetches(store.db)).toEqual([]);
  });

  it('leaves a node whose kernel did DHCP, or that moved on, alone', () => {
    fetchUki('sb-1', '52:54:00:12:35:01');
    fetchUki('sb-2', '52:54:00:12:35:02');
    clock.t += 5_000;
    life.sighted({ mac: '52:54:00:12:35:01', source: 'dhcp', vendorClass: 'udhcp 1.36.1' });
    life.machine.transition('sb-2', 'maintenance', 'Talos API answered');
    clock.t += 120_000;
    expect(sweepSilentUkiFetches(life.machine, 60, clock.t)).toEqual([]);
    expect(store.getNode('sb-1')!.state).toBe('booting');
    expect(pendingUkiFetches(store.db)).toEqual([]);
  });

  it('watches in full and proxy mode (both see the kernel\'s DHCP), not with DHCP off', () => {
    expect(ukiSilenceSeconds('full', 180)).toBe(180);
    expect(ukiSilenceSeconds('proxy', 180)).toBe(180);
    expect(ukiSilenceSeconds('off', 180)).toBe(0);
  });

  it('proxy mode: DHCP it does not answer, from the node, ends the wait; from another MAC it does nothing', () => {
    fetchUki('sb-1', '52:54:00:12:35:01');
    life.kernelDhcpSeen('52:54:00:aa:bb:cc');
    expect(pendingUkiFetches(store.db).map((f) => f.node)).toEqual(['sb-1']);
    life.kernelDhcpSeen('52:54:00:12:35:01');
    expect(pendingUkiFetches(store.db)).toEqual([]);
    expect(store.listDiscovered()).toEqual([]);
  });

  it('does nothing with 0 seconds', () => {
    fetchUki('sb-1', '52:54:00:12:35:01');
    clock.t += 3_600_000;
    expect(sweepSilentUkiFetches(life.machine, 0, clock.t)).toEqual([]);
    expect(store.getNode('sb-1')!.state).toBe('booting');
  });
});
