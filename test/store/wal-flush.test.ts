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

  it('starts a sync for a commit that lands while one runs, without waiting for it; two at most, and those who ask meanwhile share the next', async () => {
    const db = walDb();
    const f = WalFlusher.forDatabase(db)!;
    db.pragma('synchronous = NORMAL');
    const answers: string[] = [];
    const asked: Array<Promise<void>> = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      db.prepare('INSERT INTO t VALUES (?)').run(name);
      asked.push(new Promise<void>((r) => f.afterDurable((err) => (answers.push(`${name}:${err ?? 'ok'}`), r()))));
      // Everything here runs on this turn of the loop: no sync has finished, so nobody is answered yet.
      expect(f.syncs).toBe(0);
      expect(answers).toEqual([]);
    }
    await Promise.all(asked);
    expect(answers.sort()).toEqual(['a:ok', 'b:ok', 'c:ok', 'd:ok']);
    // a and b each started a sync at once, side by side; c and d asked while two ran and shared the third.
    expect(f.mostInFlight).toBe(2);
    expect(f.syncs).toBe(3);
    await f.close();
    db.close();
  });

  it('close waits for every sync in flight and answers their waiters first', async () => {
    const db = walDb();
    const f = WalFlusher.forDatabase(db)!;
    const answered: string[] = [];
    for (let i = 0; i < 3; i++) f.afterDurable((err) => answered.push(`${i}:${err ?? 'ok'}`));
    await f.close();
    expect(answered.sort()).toEqual(['0:ok', '1:ok', '2:ok']);
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
