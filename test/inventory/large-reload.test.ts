// Issue 19, item 3: a reload of a 5,000-node inventory while the daemon
// serves. Behaviour, not tight timings (bench/large-inventory.measure.ts has
// those): the event loop keeps turning during the reload, DHCP keeps
// answering, and no log line carries a list of every node.
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Store } from '../../src/store/store.js';
import { InventoryWatcher } from '../../src/inventory/watch.js';
import { startDhcpService, type DhcpService } from '../../src/dhcp/server.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { parseDhcp } from '../../src/dhcp/codec.js';
import { missingPrerequisites } from '../helpers/netns.js';
import { tempDirs } from '../helpers/tmp.js';
import { bigInventoryYaml, EXAMPLE_INVENTORY } from '../helpers/big-inventory.js';
import { ovmfProxyRequest } from '../dhcp/fixtures.js';
import { settingsWith } from '../dhcp/context.js';

const tmp = tempDirs('rb-big-inv-');
const BIG = 5000;
let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function setup() {
  const dir = tmp();
  const file = join(dir, 'cluster.yaml');
  copyFileSync(EXAMPLE_INVENTORY, file);
  const store = new Store(join(dir, 'rackboot.db'));
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const watcher = new InventoryWatcher(file, store, log, { debounceMs: 50, pollMs: 200 });
  expect(watcher.reload()).toBe(true);
  cleanup.push(() => store.close(), () => watcher.stop());
  return { dir, file, store, watcher, lines };
}

/** Counts event-loop turns (setImmediate) until `done` settles. */
async function turnsDuring<T>(done: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let settled = false;
  const spin = () => {
    if (settled) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const value = await done.finally(() => { settled = true; });
  return { value, turns };
}

describe('reloading a 5,000-node inventory', () => {
  it('keeps the event loop turning through the reload, both ways, and stores the whole change', async () => {
    const { file, store, watcher } = setup();
    writeFileSync(file, bigInventoryYaml(BIG));
    const grow = await turnsDuring(watcher.reloadInBackground());
    expect(grow.value).toBe(true);
    expect(store.listNodes()).toHaveLength(BIG + 5);
    expect(store.getNode(`bulk-${BIG - 1}`)?.mac).toBe('52:54:01:00:13:87');
    expect(store.events({ node: 'bulk-17' }).map((e) => e.message)).toEqual(['added to the inventory; registered and marked for install']);
    // A blocking reload turns the loop zero times; parsing in a worker and staging in slices turns it hundreds.
    expect(grow.turns).toBeGreaterThan(20);

    copyFileSync(EXAMPLE_INVENTORY, file);
    const shrink = await turnsDuring(watcher.reloadInBackground());
    expect(shrink.value).toBe(true);
    expect(store.listNodes()).toHaveLength(5);
    expect(store.getNode('bulk-17')?.inInventory).toBe(false);
    expect(shrink.turns).toBeGreaterThan(5);
  });

  it('logs summaries, never a line of 4 kB or more: loaded, changed, removed, and rejected with an error on every node', async () => {
    const { file, watcher, lines } = setup();
    writeFileSync(file, bigInventoryYaml(BIG));
    expect(await watcher.reloadInBackground()).toBe(true);
    writeFileSync(file, bigInventoryYaml(BIG, { installDisk: '/dev/vda' }));
    expect(await watcher.reloadInBackground()).toBe(true);
    copyFileSync(EXAMPLE_INVENTORY, file);
    expect(await watcher.reloadInBackground()).toBe(true);
    writeFileSync(file, bigInventoryYaml(BIG, { duplicateMacs: true }));
    expect(await watcher.reloadInBackground()).toBe(false);
    expect(watcher.status.errors).toHaveLength(BIG - 1);

    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; added?: { count: number; first: string[] }; updated?: { count: number }; removed?: { count: number } });
    const loaded = parsed.filter((l) => l.msg === 'inventory loaded');
    expect(loaded.map((l) => [l.added?.count, l.updated?.count, l.removed?.count])).toEqual([[5, 0, 0], [BIG, 0, 0], [0, BIG, 0], [0, 0, BIG]]);
    expect(loaded[1]!.added!.first).toEqual(Array.from({ length: 10 }, (_, i) => `bulk-${i}`));
    expect(parsed.filter((l) => l.msg.startsWith('inventory rejected'))).toHaveLength(21);
    expect(parsed.at(-2)!.msg).toMatch(/inventory rejected: 4979 more errors/);
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l)));
    expect(longest).toBeLessThan(4096);
  });

  it('picks up a file edit in the background: no timer waits 250 ms while it is applied', async () => {
    const { file, store, watcher } = setup();
    watcher.start();
    let last = performance.now();
    let longestGap = 0;
    const beat = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 5);
    cleanup.push(() => clearInterval(beat));
    writeFileSync(file, bigInventoryYaml(BIG));
    await appliedWithin(store, 30_000);
    expect(longestGap).toBeLessThan(250);
  });
});

async function appliedWithin(store: Store, ms: number): Promise<void> {
  const started = Date.now();
  while (store.getNode(`bulk-${BIG - 1}`) === undefined) {
    if (Date.now() - started > ms) throw new Error(`the edit was not applied within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(missingPrerequisites([]))('DHCP during a 5,000-node reload', () => {
  it('answers every proxy REQUEST sent during the reload, each within a generous 250 ms', async () => {
    const { file, store, watcher } = setup();
    const base = 40000 + Math.floor(Math.random() * 20000);
    const svc: DhcpService = await startDhcpService({
      settings: settingsWith({ mode: 'proxy', subnet: undefined }), store, lifecycle: new Lifecycle(store),
      log: pino({ level: 'silent' }), publicUrl: 'http://127.0.0.1:8080', provisioning: { iface: 'lo', address: '127.0.0.1' },
    }, { ports: { dhcp: base, proxy: base + 1 } });
    cleanup.push(() => svc.close());
    const client = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => void client.close());
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    client.on('message', (m) => {
      const p = parseDhcp(m);
      if (!p.ok) return;
      const t = sentAt.get(p.packet.xid);
      if (t !== undefined) latencies.push(performance.now() - t);
    });

    watcher.start();
    writeFileSync(file, bigInventoryYaml(BIG));
    let xid = 1;
    let reloading = true;
    // Client and daemon share this event loop, so a stall delays both the
    // beat and the answer; what is measured is send to answer, as a PXE
    // client would see it (its retry timer runs on its own clock).
    const sender = (async () => {
      while (reloading) {
        const id = xid++;
        sentAt.set(id, performance.now());
        client.send(ovmfProxyRequest('127.0.0.1', '127.0.0.1', id), base + 1, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await appliedWithin(store, 30_000);
    reloading = false;
    await sender;
    await new Promise((r) => setTimeout(r, 300));
    expect(sentAt.size).toBeGreaterThan(20);
    expect(latencies).toHaveLength(sentAt.size);
    expect(Math.max(...latencies)).toBeLessThan(250);
  });
});
