// The database session against a real PostgreSQL 15 started by the test:
// rows come back typed as JSON, errors carry the server's SQLSTATE, quoting
// survives hostile strings, and killing the session frees its advisory lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, lit, PgError, PsqlSession } from '../../../src/store/pg/psql-session.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

let pg: PgRig;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

describe('psql session', () => {
  it('returns rows as JSON, including from INSERT … RETURNING, and keeps hostile strings intact', async () => {
    const s = new PsqlSession(pg.createDatabase('rows'));
    try {
      await s.exec('CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)');
      const hostile = "it's a \\echo :ERROR\n'); DROP TABLE t; --";
      expect(await s.rows(`INSERT INTO t VALUES (${lit(hostile)}, ${lit(1733140000000)}) RETURNING k, n`)).toEqual([{ k: hostile, n: 1733140000000 }]);
      expect(await s.rows('SELECT k FROM t WHERE false')).toEqual([]);
      expect(await s.rows('SELECT count(*)::int AS c FROM t')).toEqual([{ c: 1 }]);
    } finally {
      await s.close();
    }
  });

  it('rejects a failed statement with its SQLSTATE and keeps the session usable', async () => {
    const s = new PsqlSession(pg.createDatabase('errs'));
    try {
      await s.exec('CREATE TABLE u (k TEXT PRIMARY KEY)');
      await s.exec("INSERT INTO u VALUES ('a')");
      const err = await s.exec("INSERT INTO u VALUES ('a')").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgError);
      expect((err as PgError).sqlstate).toBe('23505');
      expect((err as PgError).message).toMatch(/duplicate key/);
      expect(await s.rows('SELECT k FROM u')).toEqual([{ k: 'a' }]);
    } finally {
      await s.close();
    }
  });

  it('a killed session frees its advisory lock for another session, and rejects later calls', async () => {
    const a = new PsqlSession(pg.conninfo());
    const b = new PsqlSession(pg.conninfo());
    try {
      expect(await a.rows('SELECT pg_try_advisory_lock(42) AS got')).toEqual([{ got: true }]);
      expect(await b.rows('SELECT pg_try_advisory_lock(42) AS got')).toEqual([{ got: false }]);
      await a.kill();
      expect(a.alive).toBe(false);
      await expect(a.rows('SELECT 1 AS one')).rejects.toThrow(/session ended/);
      let got = false;
      for (let i = 0; i < 50 && !got; i++) {
        got = (await b.rows<{ got: boolean }>('SELECT pg_try_advisory_lock(42) AS got'))[0]!.got;
        if (!got) await new Promise((r) => setTimeout(r, 20));
      }
      expect(got).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('binds parameters as values, never as SQL, and keeps BIGINT milliseconds as numbers', async () => {
    const s = new PsqlSession(pg.createDatabase('binds'));
    try {
      await s.exec('CREATE TABLE b (k TEXT PRIMARY KEY, n BIGINT)');
      const hostile = "x'); DROP TABLE b; --";
      await s.exec('INSERT INTO b VALUES ($1, $2)', [hostile, 1733140000000]);
      expect(await s.rows('SELECT k, n FROM b WHERE k = $1', [hostile])).toEqual([{ k: hostile, n: 1733140000000 }]);
      expect(await s.rows('SELECT (2::bigint ^ 62)::bigint AS big')).toEqual([{ big: '4611686018427387904' }]);
    } finally {
      await s.close();
    }
  });

  it('reads libpq key=value conninfo, quoted values included, and refuses what it cannot read', () => {
    expect(clientConfig("host=/run/pg port=5433 user=rackboot dbname='my db' password='it\\'s'")).toMatchObject({
      host: '/run/pg', port: 5433, user: 'rackboot', database: 'my db', password: "it's",
    });
    expect(clientConfig('postgres://u@h/db')).toMatchObject({ connectionString: 'postgres://u@h/db' });
    expect(() => clientConfig('host=/x !!')).toThrow(/conninfo/);
    // An unquoted password with a space: the error gives a position, never the text left over.
    expect(() => clientConfig('host=/x password=s3cret wh0le')).toThrow(/conninfo at character 24/);
    expect(() => clientConfig('host=/x password=s3cret wh0le')).not.toThrow(/wh0le/);
  });

  it('a session that cannot connect rejects with the reason', async () => {
    const s = new PsqlSession(`host=${pg.dir} user=rackboot dbname=no_such_db`);
    await expect(s.rows('SELECT 1 AS one')).rejects.toThrow(/no_such_db/);
    await s.close();
  });
});
