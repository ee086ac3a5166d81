import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DISCOVERED_LIMIT, Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { discoveredView } from '../../src/lifecycle/discovery.js';
import { inventory, nodeSpec } from './fixtures.js';
import type { Logger } from '../../src/log.js';
import { join } from 'node:path';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { usePgAndTempDir } from '../helpers/postgres.js';

describe('discovered machines', () => {
  it('flags all-zero and duplicated UUIDs and leaves them out of the snippet', () => {
    const store = new Store(':memory:');
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01', 'worker', { uuid: '11111111-2222-3333-4444-555555555555' })]));
    store.recordDiscovered({ mac: 'de:ad:00:00:00:01', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000', arch: '7', vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
    store.recordDiscovered({ mac: 'de:ad:00:00:00:02', source: 'dhcp', uuid: '11111111-2222-3333-4444-555555555555', arch: '0', relay: '10.1.0.1' });
    store.recordDiscovered({ mac: 'de:ad:00:00:00:03', source: 'http', uuid: '99999999-2222-3333-4444-555555555555', arch: 'x86_64' });
    const byMac = new Map(discoveredView(store).map((d) => [d.mac, d]));
    expect(byMac.get('de:ad:00:00:00:01')).toMatchObject({ uuidFlag: 'all-zero', archName: 'x64 UEFI' });
    expect(byMac.get('de:ad:00:00:00:02')).toMatchObject({ uuidFlag: 'duplicate', archName: 'x86 BIOS', relay: '10.1.0.1' });
    expect(byMac.get('de:ad:00:00:00:03')).toMatchObject({ uuidFlag: null });
    expect(parse(byMac.get('de:ad:00:00:00:01')!.snippet)).toEqual([{ name: 'node-dead00000001', mac: 'de:ad:00:00:00:01', role: 'worker', installDisk: '/dev/sda' }]);
    expect(parse(byMac.get('de:ad:00:00:00:03')!.snippet)[0].uuid).toBe('99999999-2222-3333-4444-555555555555');
    store.close();
  });

  it('writes one event per unknown machine, not one per packet, and counts the rest', () => {
    const store = new Store(':memory:');
    const lifecycle = new Lifecycle(store);
    for (let i = 0; i < 50; i++) lifecycle.sighted({ mac: 'de:ad:00:00:00:01', source: i % 2 ? 'dhcp' : 'tftp' });
    lifecycle.sighted({ mac: 'de:ad:00:00:00:02', source: 'dhcp' });
    expect(store.events({ mac: 'de:ad:00:00:00:01' }).map((e) => e.message)).toEqual(['unknown machine de:ad:00:00:00:01 asked to boot']);
    expect(store.events({ mac: 'de:ad:00:00:00:02' })).toHaveLength(1);
    expect(store.listDiscovered().find((d) => d.mac === 'de:ad:00:00:00:01')!.seenCount).toBe(50);
    store.close();
  });

  it('with sightingsLater, answers at once and writes the turn\'s sightings after it, in one transaction', async () => {
    const store = new Store(':memory:');
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01', 'worker')]));
    const lifecycle = new Lifecycle(store, { sightingsLater: true });
    const transactions: number[] = []; // outermost withoutFlush calls: each one commits
    const withoutFlush = store.withoutFlush.bind(store);
    store.withoutFlush = (write) => (store.db.inTransaction || transactions.push(1), withoutFlush(write));
    expect(lifecycle.sighted({ mac: 'aa:bb:cc:00:00:01', source: 'dhcp', vendorClass: 'PXEClient:Arch:00007' })).toMatchObject({ kind: 'install' });
    expect(lifecycle.sighted({ mac: 'de:ad:00:00:00:01', source: 'dhcp' })).toMatchObject({ kind: 'unknown' });
    lifecycle.sighted({ mac: 'de:ad:00:00:00:01', source: 'tftp' });
    // Nothing is written in the turn that answered.
    expect(store.listDiscovered()).toEqual([]);
    expect(store.getNode('w1')!.lastSeen).toBeNull();
    expect(transactions).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(transactions).toHaveLength(1);
    expect(store.listDiscovered()).toEqual([expect.objectContaining({ mac: 'de:ad:00:00:00:01', seenCount: 2 })]);
    expect(store.events({ mac: 'de:ad:00:00:00:01' })).toHaveLength(1);
    expect(store.getNode('w1')!.lastSeen).not.toBeNull();
    // What is still waiting when the daemon stops is written by writeSightings(), before the store closes.
    lifecycle.sighted({ mac: 'de:ad:00:00:00:02', source: 'http' });
    lifecycle.writeSightings();
    expect(store.listDiscovered().map((d) => d.mac)).toContain('de:ad:00:00:00:02');
    store.close();
  });

  it('with sightingsLater, sightings that keep coming share one commit per sightingGapMs; a quiet lifecycle\'s next one is written on the next turn', async () => {
    const store = new Store(':memory:');
    const lifecycle = new Lifecycle(store, { sightingsLater: true, sightingGapMs: 1000 });
    const commits: number[] = [];
    const withoutFlush = store.withoutFlush.bind(store);
    store.withoutFlush = (write) => (store.db.inTransaction || commits.push(performance.now()), withoutFlush(write));
    const turn = () => new Promise((r) => setImmediate(r));
    const t0 = performance.now();
    lifecycle.sighted({ mac: 'de:ad:00:00:01:01', source: 'dhcp' });
    await turn();
    expect(commits).toHaveLength(1);
    // Three more turns, each with a sighting: none of them commits before the gap has passed.
    for (let i = 2; i <= 4; i++) {
      lifecycle.sighted({ mac: `de:ad:00:00:01:0${i}`, source: 'dhcp' });
      await turn();
    }
    expect(commits).toHaveLength(1);
    expect(store.listDiscovered()).toHaveLength(1);
    await expect.poll(() => commits.length, { timeout: 5_000, interval: 10 }).toBe(2);
    expect(commits[1]! - t0).toBeGreaterThanOrEqual(995);
    expect(store.listDiscovered().map((d) => d.mac).sort()).toEqual(['de:ad:00:00:01:01', 'de:ad:00:00:01:02', 'de:ad:00:00:01:03', 'de:ad:00:00:01:04']);
    // Quiet for longer than the gap: the next sighting is written on the next turn again.
    await new Promise((r) => setTimeout(r, 1050));
    lifecycle.sighted({ mac: 'de:ad:00:00:01:05', source: 'dhcp' });
    await turn();
    expect(commits).toHaveLength(3);
    store.close();
  });

  it('with sightingsLater, a store that refuses the write loses the sightings, says so once, and keeps answering', async () => {
    const store = new Store(':memory:');
    const lines: Array<{ msg: string; lost?: number }> = [];
    const log = { warn: (o: { lost: number }, msg: string) => lines.push({ msg, lost: o.lost }) } as unknown as Logger;
    const lifecycle = new Lifecycle(store, { sightingsLater: true, log });
    store.withoutFlush = () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    for (let turn = 0; turn < 3; turn++) {
      expect(lifecycle.sighted({ mac: `de:ad:00:00:00:0${turn}`, source: 'dhcp' })).toMatchObject({ kind: 'unknown' });
      await new Promise((r) => setImmediate(r));
    }
    expect(lines).toEqual([{ msg: 'sightings not recorded: the store refused the write', lost: 1 }]);
    store.close();
  });

  it(`keeps only the ${DISCOVERED_LIMIT} most recently seen unknown machines`, () => {
    let now = 1_000_000;
    const store = new Store(':memory:', { now: () => now });
    const mac = (i: number) => `de:ad:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    for (let i = 0; i < DISCOVERED_LIMIT + 20; i++) {
      now += 1000;
      expect(store.recordDiscovered({ mac: mac(i), source: 'dhcp' })).toBe(true);
      // Machine 0 keeps asking, so it is never the least recently seen.
      now += 1;
      expect(store.recordDiscovered({ mac: mac(0), source: 'dhcp' })).toBe(false);
    }
    const kept = new Set(store.listDiscovered().map((d) => d.mac));
    expect(kept.size).toBe(DISCOVERED_LIMIT);
    expect(kept.has(mac(0))).toBe(true);
    expect(kept.has(mac(DISCOVERED_LIMIT + 19))).toBe(true);
    for (let i = 1; i <= 20; i++) expect(kept.has(mac(i))).toBe(false);
    store.close();
  });
});

describe('sightings with a NUL in them', () => {
  const rig = usePgAndTempDir('rb-discovery-');
  // The daemon's two compositions: SQLite alone, and SQLite beside the shared PostgreSQL rows.
  const stores = { sqlite: () => new Store(':memory:'), postgres: () => new SharedStore(join(rig.dir, `${Math.random()}.db`), rig.database()) };

  it.each(Object.keys(stores) as (keyof typeof stores)[])('on %s: a NUL in a client\'s vendor or user class costs no sighting written with it', (kind) => {
    const store = stores[kind]();
    const lifecycle = new Lifecycle(store, { sightingsLater: true });
    lifecycle.sighted({ mac: 'de:ad:00:00:00:01', source: 'dhcp', vendorClass: 'PXEClient\0:Arch:00007', userClass: 'iPXE\0' });
    lifecycle.sighted({ mac: 'de:ad:00:00:00:02', source: 'dhcp', vendorClass: 'PXEClient:Arch:00000' });
    lifecycle.writeSightings();
    const byMac = new Map(store.listDiscovered().map((d) => [d.mac, d]));
    expect(byMac.get('de:ad:00:00:00:01')).toMatchObject({ vendorClass: 'PXEClient:Arch:00007', userClass: 'iPXE' });
    expect(byMac.get('de:ad:00:00:00:02')).toMatchObject({ vendorClass: 'PXEClient:Arch:00000' });
    expect(store.events({ mac: 'de:ad:00:00:00:01' })).toHaveLength(1);
    store.close();
  });
});
