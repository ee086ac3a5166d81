import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Store } from '../../src/store/store.js';
import { InventoryWatcher } from '../../src/inventory/watch.js';

const example = new URL('../../inventory/cluster.yaml', import.meta.url);
const extraNode = '  - name: worker-3\n    mac: 52:54:00:12:34:13\n    role: worker\n';

async function until(cond: () => boolean, ms = 2000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'rb-watch-'));
  const file = join(dir, 'cluster.yaml');
  copyFileSync(example, file);
  const store = new Store(':memory:');
  const watcher = new InventoryWatcher(file, store, pino({ level: 'silent' }));
  expect(watcher.reload()).toBe(true);
  watcher.start();
  cleanup.push(() => {
    watcher.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, file, store, watcher };
}

describe('inventory hot reload', () => {
  it('applies a valid in-place edit within 2 s', async () => {
    const { file, store } = setup();
    writeFileSync(file, readFileSync(file, 'utf8') + extraNode);
    await until(() => store.getNode('worker-3') !== undefined);
    expect(store.getNode('worker-3')!.state).toBe('registered');
  });

  it('applies an editor-style rename-replace within 2 s', async () => {
    const { dir, file, store } = setup();
    const tmp = join(dir, '.cluster.yaml.swp');
    writeFileSync(tmp, readFileSync(file, 'utf8') + extraNode);
    renameSync(tmp, file);
    await until(() => store.getNode('worker-3') !== undefined);
  });

  it('rejects a bad edit, keeps the last good inventory, and reports file:line', async () => {
    const { file, store, watcher } = setup();
    const good = watcher.inventory;
    const bad = readFileSync(file, 'utf8').replace('role: worker', 'role: wrker');
    writeFileSync(file, bad);
    const badLine = bad.split('\n').findIndex((l) => l.includes('role: wrker')) + 1;
    await until(() => !watcher.status.ok);
    expect(watcher.inventory).toBe(good);
    expect(store.listNodes()).toHaveLength(5);
    expect(watcher.status.errors[0]).toMatchObject({ file, line: badLine, col: 11, message: expect.stringContaining('must be one of') });
    // Fixing the file makes it live again.
    writeFileSync(file, readFileSync(example, 'utf8'));
    await until(() => watcher.status.ok);
  });

  it('refuses on reload an edit whose patch cannot apply (what inventory check finds), keeping the last good inventory, with the patch\'s file:line', async () => {
    const { file, store, watcher } = setup();
    const good = watcher.inventory;
    const bad = readFileSync(file, 'utf8') + extraNode + '    patches:\n      - [{ op: add, path: /machine/nope/x, value: 1 }]\n';
    writeFileSync(file, bad);
    const patchLine = bad.split('\n').findIndex((l) => l.includes('/machine/nope/x')) + 1;
    await until(() => !watcher.status.ok);
    expect(watcher.inventory).toBe(good);
    expect(store.getNode('worker-3')).toBeUndefined();
    expect(watcher.status.errors).toEqual([{ file, line: patchLine, col: 9, message: expect.stringMatching(/^node worker-3: its config does not render: patch nodes\[worker-3\]\.patches\[0\]: .*\/machine\/nope\/x does not exist/) }]);
  });

  it('keeps a removed node\'s history', async () => {
    const { file, store } = setup();
    store.setState('worker-2', 'installed', 'test', { markedForInstall: false });
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.indexOf('  - name: worker-2')));
    await until(() => store.listNodes().length === 4);
    const gone = store.getNode('worker-2')!;
    expect(gone.inInventory).toBe(false);
    expect(store.events({ node: 'worker-2' }).map((e) => e.kind)).toEqual(['inventory', 'state', 'inventory']);
  });

  it('survives the file disappearing and coming back', async () => {
    const { dir, file, watcher } = setup();
    renameSync(file, join(dir, 'moved.yaml'));
    await until(() => !watcher.status.ok);
    expect(watcher.status.errors[0]!.message).toContain('cannot read inventory');
    renameSync(join(dir, 'moved.yaml'), file);
    await until(() => watcher.status.ok);
  });
});
