import { describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import { prepared, transacted } from '../../src/store/prepared.js';

describe('prepared', () => {
  it('prepares a text once per connection and hands every caller that statement', () => {
    const a = new Database(':memory:');
    const b = new Database(':memory:');
    a.exec('CREATE TABLE t (v INTEGER)');
    b.exec('CREATE TABLE t (v INTEGER)');
    const insertA = prepared(a, 'INSERT INTO t (v) VALUES (?)');
    expect(prepared(a, 'INSERT INTO t (v) VALUES (?)')).toBe(insertA);
    const insertB = prepared(b, 'INSERT INTO t (v) VALUES (?)');
    expect(insertB).not.toBe(insertA);
    insertA.run(1);
    insertB.run(2);
    insertB.run(3);
    expect(prepared(a, 'SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    expect(prepared(b, 'SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
    a.close();
    b.close();
  });

  it('runs a pragma that sets a value, as the commit level changes do', () => {
    const db = new Database(':memory:');
    prepared(db, 'PRAGMA synchronous = NORMAL').run();
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    prepared(db, 'PRAGMA synchronous = FULL').run();
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    prepared(db, 'PRAGMA synchronous = NORMAL').run();
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    db.close();
  });

  it('transacted: one wrapper per connection; commits, rolls back on a throw, and nests as a savepoint', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const made = vi.spyOn(db, 'transaction');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    expect(transacted(db, () => (insert.run(1), 'returned'))).toBe('returned');
    expect(() => transacted(db, () => { insert.run(2); throw new Error('boom'); })).toThrow('boom');
    expect(count()).toBe(1);
    // An inner failure undoes the inner writes only, as db.transaction(fn)() nested would.
    transacted(db, () => {
      insert.run(3);
      expect(db.inTransaction).toBe(true);
      expect(() => transacted(db, () => { insert.run(4); throw new Error('inner'); })).toThrow('inner');
      transacted(db, () => insert.run(5));
    });
    expect((db.prepare('SELECT v FROM t ORDER BY v').all() as Array<{ v: number }>).map((r) => r.v)).toEqual([1, 3, 5]);
    expect(db.inTransaction).toBe(false);
    expect(made).toHaveBeenCalledTimes(1);
    const other = new Database(':memory:');
    other.exec('CREATE TABLE t (v INTEGER)');
    transacted(other, () => other.prepare('INSERT INTO t (v) VALUES (7)').run());
    expect(count()).toBe(3);
    db.close();
    other.close();
  });
});
