// WAL checkpoints in a worker thread: the daemon's connection stops checkpointing on the event loop,
// the worker's connection copies the WAL into the database, and if the worker ends they come back.
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { Store } from '../../src/store/store.js';
import { checkpointOffLoop, type OffLoopCheckpoints } from '../../src/store/checkpoint-off-loop.js';
import { readWalIndex } from '../../src/store/wal-index.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-ckpt-');
const said: Array<{ level: string; msg: string; obj: unknown }> = [];
const log = {
  warn: (obj: unknown, msg: string) => void said.push({ level: 'warn', msg, obj }),
  error: (obj: unknown, msg: string) => void said.push({ level: 'error', msg, obj }),
} as unknown as Logger;

describe('checkpointOffLoop', () => {
  const open: Array<{ store: Store; ckpt?: OffLoopCheckpoints }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) { await o.ckpt?.stop(); o.store.close(); }
    said.length = 0;
  });

  it('the main connection stops checkpointing, and the worker copies every committed frame into the database', async () => {
    const file = join(tmp(), 'rackboot.db');
    const store = new Store(file);
    const ckpt = checkpointOffLoop(store.db, file, log, { gapMs: 50, catchUpMs: 5 });
    open.push({ store, ckpt });
    expect(ckpt).toBeDefined();
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const reports: Array<{ log: number; checkpointed: number }> = [];
    ckpt!.onCheckpoint((r) => reports.push(r));

    store.db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, v BLOB)');
    const put = store.db.prepare('INSERT INTO filler (v) VALUES (?)');
    // 1,500 commits: past SQLite's 1,000-page auto-checkpoint, which the main connection no longer runs.
    for (let i = 0; i < 1500; i++) put.run(Buffer.alloc(2000, i % 251));
    await expect.poll(() => reports.at(-1), { timeout: 10_000, interval: 20 })
      .toSatisfy((r?: { log: number; checkpointed: number }) => r !== undefined && r.log >= 1500 && r.checkpointed === r.log);
    expect(said).toEqual([]);
  });

  it('below SQLite\'s 1,000-page threshold the worker leaves the WAL alone (each wholly copied WAL costs the loop a header sync)', async () => {
    const file = join(tmp(), 'rackboot.db');
    const store = new Store(file);
    const ckpt = checkpointOffLoop(store.db, file, log, { gapMs: 20 });
    open.push({ store, ckpt });
    const reports: Array<{ log: number; checkpointed: number }> = [];
    ckpt!.onCheckpoint((r) => reports.push(r));
    store.db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, v BLOB)');
    const put = store.db.prepare('INSERT INTO filler (v) VALUES (?)');
    for (let i = 0; i < 300; i++) put.run(Buffer.alloc(2000, i % 251));
    await new Promise((r) => setTimeout(r, 300));
    expect(reports).toEqual([]);
    for (let i = 0; i < 900; i++) put.run(Buffer.alloc(2000, i % 251));
    await expect.poll(() => reports.length, { timeout: 10_000, interval: 20 }).toBeGreaterThan(0);
    expect(reports[0]!.log).toBeGreaterThanOrEqual(1000);
  });

  it('a commit that lands after a checkpoint copied everything: the worker copies it too, below the threshold, so the WAL starts over', async () => {
    const file = join(tmp(), 'rackboot.db');
    const store = new Store(file);
    store.db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, v BLOB)');
    const put = store.db.prepare('INSERT INTO filler (v) VALUES (?)');
    // Past the test's 50-page threshold before the worker starts, so its first look finds them however slow the commits.
    for (let i = 0; i < 60; i++) put.run(Buffer.alloc(2000, i));
    const shm = openSync(`${file}-shm`, 'r');
    const walFrames = () => readWalIndex(shm).frames;
    // A transaction that begins before the checkpoint and commits after it, as a DHCP batch on the
    // loop does while the worker copies: SQLite starts the WAL over only in one that began wholly copied.
    // Begun before the worker exists, so its first checkpoint is surely inside it.
    store.db.exec('BEGIN');
    store.db.prepare('SELECT count(*) FROM filler').get();
    const ckpt = checkpointOffLoop(store.db, file, log, { gapMs: 50, growingGapMs: 50, catchUpMs: 5, pages: 50 });
    open.push({ store, ckpt });
    const reports: Array<{ log: number; checkpointed: number }> = [];
    ckpt!.onCheckpoint((r) => reports.push(r));
    try {
      await expect.poll(() => reports.at(-1), { timeout: 10_000, interval: 5 })
        .toSatisfy((r?: { log: number; checkpointed: number }) => r !== undefined && r.log >= 60 && r.checkpointed === r.log);
      put.run(Buffer.alloc(2000, 1));
      store.db.exec('COMMIT');
      const lengthAfterCommit = walFrames();
      expect(lengthAfterCommit).toBeGreaterThan(reports.at(-1)!.log);
      // A frame or two uncopied, far below 50: a worker that counted uncopied frames left them until 50
      // more pages came, and every commit until then appended to the WAL. This one goes by the length.
      await expect.poll(() => reports.at(-1), { timeout: 10_000, interval: 5 })
        .toMatchObject({ log: lengthAfterCommit, checkpointed: lengthAfterCommit });
      put.run(Buffer.alloc(2000, 2));
      expect(walFrames()).toBeLessThan(lengthAfterCommit);
    } finally {
      closeSync(shm);
    }
  });

  it('an in-memory store keeps SQLite\'s own checkpoints', () => {
    const store = new Store(':memory:');
    open.push({ store });
    expect(checkpointOffLoop(store.db, ':memory:', log)).toBeUndefined();
  });

  it('a worker that ends puts the checkpoints back on the loop, and says so', async () => {
    const dir = tmp();
    const file = join(dir, 'rackboot.db');
    const store = new Store(file);
    // The worker is handed a directory: its connection cannot open, so it ends at once.
    const ckpt = checkpointOffLoop(store.db, dir, log, { gapMs: 50 });
    open.push({ store, ckpt });
    await expect.poll(() => store.db.pragma('wal_autocheckpoint', { simple: true }), { timeout: 10_000, interval: 20 }).toBe(1000);
    expect(said.map((s) => [s.level, s.msg])).toEqual([['error', 'the WAL checkpoint worker ended: checkpoints are back on the event loop']]);
  });

  it('does not keep a process alive: one that never stops it still exits when its work is done', async () => {
    const file = join(tmp(), 'rackboot.db');
    const dist = fileURLToPath(new URL('../../dist/store/', import.meta.url));
    const script = `
      const { Store } = await import(${JSON.stringify(join(dist, 'store.js'))});
      const { checkpointOffLoop } = await import(${JSON.stringify(join(dist, 'checkpoint-off-loop.js'))});
      const store = new Store(${JSON.stringify(file)});
      const ckpt = checkpointOffLoop(store.db, ${JSON.stringify(file)}, undefined, { gapMs: 50, catchUpMs: 5, pages: 1 });
      let seen = 0;
      ckpt.onCheckpoint(() => seen++);
      store.db.exec('CREATE TABLE t (v)');
      const put = store.db.prepare('INSERT INTO t VALUES (?)');
      // Commits for half a second, so checkpoint reports keep arriving (a quiet worker held nothing even when referenced).
      const writes = setInterval(() => put.run(Date.now()), 10);
      setTimeout(() => { clearInterval(writes); console.log(seen > 0, store.db.pragma('wal_autocheckpoint', { simple: true })); }, 500);`;
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const p = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) =>
        resolve({ code: err ? (p.exitCode ?? -1) : 0, stdout }));
    });
    expect(out).toEqual({ code: 0, stdout: 'true 0\n' });
  }, 15_000);
});
