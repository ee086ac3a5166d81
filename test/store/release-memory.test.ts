// Issue 19: after a large inventory reload the daemon gives SQLite's cache
// and glibc's freed chunks back to the kernel (store/release-memory.ts),
// once, a moment after the reload; small reloads leave memory alone.
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Store } from '../../src/store/store.js';
import { InventoryWatcher, RELEASE_DELAY_MS } from '../../src/inventory/watch.js';
import { releaseMemory } from '../../src/store/release-memory.js';
import { tempDirs } from '../helpers/tmp.js';
import { bigInventoryYaml, EXAMPLE_INVENTORY } from '../helpers/big-inventory.js';

const tmp = tempDirs('rb-release-mem-');
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function setup() {
  const dir = tmp();
  const file = join(dir, 'cluster.yaml');
  copyFileSync(EXAMPLE_INVENTORY, file);
  const store = new Store(join(dir, 'rackboot.db'));
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const watcher = new InventoryWatcher(file, store, log, { debounceMs: 50, pollMs: 200 });
  expect(watcher.reload()).toBe(true);
  cleanup.push(() => store.close(), () => watcher.stop());
  const released = () => lines.filter((l) => l.msg === 'memory released after a large inventory reload');
  return { file, store, watcher, released };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory after a large inventory reload', () => {
  it('is released once after a 5,000-node reload and after the switch back (with a full GC only then), with malloc_trim from the addon', async () => {
    const { file, watcher, released } = setup();
    writeFileSync(file, bigInventoryYaml(5000));
    expect(await watcher.reloadInBackground()).toBe(true);
    expect(released()).toEqual([]); // not in the reload's own turn: after the parse worker is gone
    await sleep(RELEASE_DELAY_MS + 500);
    expect(released()).toHaveLength(1);
    expect(released()[0]).toMatchObject({ trimmed: true, gcMs: 0 }); // grown: no forced collection
    writeFileSync(file, `${bigInventoryYaml(0)}# back\n`);
    expect(await watcher.reloadInBackground()).toBe(true);
    await sleep(RELEASE_DELAY_MS + 500);
    expect(released()).toHaveLength(2);
    expect(released()[1]!.gcMs).toBeGreaterThan(0); // shrunk by 5,000: collected first
  }, 120_000);

  it('is left alone after a small reload', async () => {
    const { file, watcher, released } = setup();
    writeFileSync(file, bigInventoryYaml(3));
    expect(await watcher.reloadInBackground()).toBe(true);
    await sleep(RELEASE_DELAY_MS + 500);
    expect(released()).toEqual([]);
  });

  it('is not touched once the store is closed (a reload just before shutdown)', async () => {
    const { file, store, watcher, released } = setup();
    writeFileSync(file, bigInventoryYaml(300));
    expect(await watcher.reloadInBackground()).toBe(true);
    store.close();
    await sleep(RELEASE_DELAY_MS + 500);
    expect(released()).toEqual([]);
  });

  it('collects, shrinks SQLite\'s cache and trims malloc on an open database, each step on its own', async () => {
    const store = new Store(':memory:');
    cleanup.push(() => store.close());
    const r = await releaseMemory(store.db, { collect: true });
    expect(r).toMatchObject({ gcMs: expect.any(Number), shrinkMs: expect.any(Number), trimMs: expect.any(Number) });
    expect(r.trimmed).toBe(true);
    expect(r.rssAfter).toBeGreaterThan(0);
  });
});
