import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PROCESS_DURABLE, WalFlusher, writeBehind, type CommitDurability } from '../../src/store/wal-flush.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function walDb(): Database.Database {
  dir = mkdtempSync(join(tmpdir(), 'rbd-walflush-'));
  const db = new Database(join(dir, 'x.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v INTEGER)');
  return db;
}

describe('WalFlusher', () => {
  it('has nothing to sync for a database in memory or not in WAL mode: callers commit with FULL', () => {
    expect(WalFlusher.forDatabase(new Database(':memory:'))).toBeUndefined();
    dir = mkdtempSync(join(tmpdir(), 'rbd-walflush-'));
    const db = new Database(join(dir, 'rollback.db'));
    expect(WalFlusher.forDatabase(db)).toBeUndefined();
    db.close();
  });

  it('answers each waiter after a sync that started after it asked; those who ask during a sync share the next', async () => {
    const db = walDb();
    const f = WalFlusher.forDatabase(db)!;
    const order: string[] = [];
    db.pragma('synchronous = NORMAL');
    db.prepare('INSERT INTO t VALUES (1)').run();
    const first = new Promise<void>((r) => f.afterDurable((err) => (order.push(`a:${err ?? 'ok'}:${f.syncs}`), r())));
    // These arrive while the first sync runs: one more sync covers them both.
    db.prepare('INSERT INTO t VALUES (2)').run();
    const second = new Promise<void>((r) => f.afterDurable((err) => (order.push(`b:${err ?? 'ok'}:${f.syncs}`), r())));
    const third = new Promise<void>((r) => f.afterDurable((err) => (order.push(`c:${err ?? 'ok'}:${f.syncs}`), r())));
    expect(order).toEqual([]);
    await Promise.all([first, second, third]);
    expect(order).toEqual(['a:ok:1', 'b:ok:2', 'c:ok:2']);
    await f.close();
    db.close();
  });

  it('after close, a waiter is told the store is closing instead of waiting', async () => {
    const db = walDb();
    const f = WalFlusher.forDatabase(db)!;
    await f.close();
    const err = await new Promise<Error | undefined>((r) => f.afterDurable(r));
    expect(err?.message).toMatch(/closing/);
    db.close();
  });
});

describe('writeBehind (leaseDurability process)', () => {
  it('answers at once, and syncs the WAL behind the answer so a checkpoint on the loop finds it written', async () => {
    const db = walDb();
    const f = WalFlusher.forDatabase(db)!;
    const d = writeBehind(f);
    db.pragma('synchronous = NORMAL');
    db.prepare('INSERT INTO t VALUES (1)').run();
    let answered: string | undefined;
    d.afterDurable((err) => (answered = `${err ?? 'ok'}:${f.syncs}`));
    // Answered before any sync finished (it runs in the thread pool).
    expect(answered).toBe('ok:0');
    const deadline = Date.now() + 10_000;
    while (f.syncs < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(f.syncs).toBe(1);
    await d.close();
    db.close();
  });

  it('starts at most one sync per gap however often it is asked, and always one after the last commit', async () => {
    const starts: number[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    // A flusher whose syncs take 2 ms: only when they start is of interest here.
    const fake: CommitDurability = {
      afterDurable(done) {
        starts.push(performance.now());
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        setTimeout(() => (inFlight--, done(undefined)), 2);
      },
      close: async () => undefined,
    };
    const gap = 30;
    const d = writeBehind(fake, gap);
    let lastAsk = 0;
    for (let i = 0; i < 20; i++) {
      let answered = false;
      d.afterDurable(() => (answered = true));
      expect(answered).toBe(true);
      lastAsk = performance.now();
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, gap * 3));
    // 20 commits over 100 ms or more: one sync at once, then one per gap at most (timers only fire late).
    expect(starts.length).toBeGreaterThanOrEqual(2);
    expect(starts.length).toBeLessThanOrEqual(Math.ceil((lastAsk - starts[0]!) / gap) + 1);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(gap - 2); // the loop's clock is whole ms
    expect(mostInFlight).toBe(1);
    // The last commit is covered: a sync started after it.
    expect(starts.at(-1)!).toBeGreaterThanOrEqual(lastAsk);
    await d.close();
  });

  it('is plain PROCESS_DURABLE without a WAL to sync', () => {
    expect(writeBehind(undefined)).toBe(PROCESS_DURABLE);
  });
});
