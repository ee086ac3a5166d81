import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PROCESS_DURABLE, WalFlusher, writeBehind } from '../../src/store/wal-flush.js';

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

  it('is plain PROCESS_DURABLE without a WAL to sync', () => {
    expect(writeBehind(undefined)).toBe(PROCESS_DURABLE);
  });
});
