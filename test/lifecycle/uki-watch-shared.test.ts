// Two appliances on one PostgreSQL store (`store: postgres://…`): a node that
// fetched its UKI from A and whose kernel's DHCP reached only B (a DHCP
// failover in between) booted, and neither appliance may fail it as a
// Secure Boot refusal. A node silent after its fetch is failed once, by
// whichever appliance's sweep comes first.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { sweepSilentUkiFetches } from '../../src/lifecycle/uki-watch.js';
import { pendingUkiFetches } from '../../src/store/uki-fetches.js';
import { writeSightings, testAppliance, type TestAppliance } from '../helpers/appliance.js';
import { usePgAndTempDir } from '../helpers/postgres.js';

const W1 = '52:54:00:12:34:11';
const rig = usePgAndTempDir('rb-uki-shared-');
const opened: TestAppliance[] = [];
afterEach(async () => {
  for (const a of opened.splice(0)) await a.close();
});

/** Appliances A and B on one fresh database; worker-1 boots the Secure Boot UKI, which A has cached. */
async function twoAppliances(): Promise<[TestAppliance, TestAppliance]> {
  const conninfo = rig.database();
  const open = async () => {
    const a = await testAppliance({ openStore: (file) => new SharedStore(file, conninfo), parent: rig.dir });
    opened.push(a);
    return a;
  };
  const a = await open();
  const b = await open();
  const inv = a.watcher.inventory!;
  a.store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, httpBoot: 'uki' as const, secureBoot: true } : n)) });
  writeFileSync(join(a.assetDir, 'metal-amd64-secureboot-uki.efi'), Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4096, 3)]));
  return [a, b];
}

async function fetchUkiFrom(a: TestAppliance): Promise<void> {
  const res = await a.app.inject({ method: 'GET', url: `/uki/${W1.replace(/:/g, '-')}.efi`, remoteAddress: '10.77.0.21' });
  expect(res.statusCode).toBe(200);
}

const MINUTES_LATER = Date.now() + 10 * 60_000;

describe('UKI fetch on A, the kernel seen by B', () => {
  it('the kernel\'s DHCP on B ends the wait A began: neither fails the node', async () => {
    const [a, b] = await twoAppliances();
    await fetchUkiFrom(a);
    expect(pendingUkiFetches(b.store).map((f) => f.node)).toEqual(['worker-1']);
    b.lifecycle.sighted({ mac: W1, source: 'dhcp', vendorClass: 'udhcp 1.36.1' });
    writeSightings(b);
    expect(sweepSilentUkiFetches(a.lifecycle.machine, 60, MINUTES_LATER)).toEqual([]);
    expect(sweepSilentUkiFetches(b.lifecycle.machine, 60, MINUTES_LATER)).toEqual([]);
    expect(a.store.getNode('worker-1')!.state).toBe('booting');
    expect(pendingUkiFetches(a.store)).toEqual([]);
  });

  it('proxy mode: the kernel\'s DHCP that B only watches ends it too', async () => {
    const [a, b] = await twoAppliances();
    await fetchUkiFrom(a);
    b.lifecycle.kernelDhcpSeen(W1);
    expect(sweepSilentUkiFetches(a.lifecycle.machine, 60, MINUTES_LATER)).toEqual([]);
    expect(a.store.getNode('worker-1')!.state).toBe('booting');
  });

  it('a node B moved on (Talos answered B) is not failed by A', async () => {
    const [a, b] = await twoAppliances();
    await fetchUkiFrom(a);
    expect(b.lifecycle.machine.transition('worker-1', 'maintenance', 'Talos API answered').ok).toBe(true);
    expect(sweepSilentUkiFetches(a.lifecycle.machine, 60, MINUTES_LATER)).toEqual([]);
    expect(a.store.getNode('worker-1')!.state).toBe('maintenance');
    expect(pendingUkiFetches(a.store)).toEqual([]);
  });

  it('silence after the fetch: failed once, by the first appliance to sweep, with no refused move from the other', async () => {
    const [a, b] = await twoAppliances();
    await fetchUkiFrom(a);
    expect(sweepSilentUkiFetches(b.lifecycle.machine, 60, MINUTES_LATER)).toEqual(['worker-1']);
    expect(sweepSilentUkiFetches(a.lifecycle.machine, 60, MINUTES_LATER)).toEqual([]);
    const node = a.store.getNode('worker-1')!;
    expect(node.state).toBe('failed');
    expect(node.failedStep).toBe('booting');
    const events = a.store.events({ node: 'worker-1' });
    expect(events.filter((e) => e.kind === 'state' && /→ failed/.test(e.message))).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'rejected' || e.kind === 'observation')).toEqual([]);
  });
});
