import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { prepared } from '../../src/store/prepared.js';

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
});
