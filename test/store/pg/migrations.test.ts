// Every SQLite migration has its PostgreSQL twin, and the two schemas give
// every table the same columns (PostgreSQL adds `rowid` where SQLite's is
// implicit) and the same indexes' names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../../src/store/migrations.js';
import { NODE_EXTRA_MACS, PG_ENSURED_INDEXES, PG_MIGRATIONS, PG_ONLY, migratePg, pgTwin } from '../../../src/store/pg/migrations.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { Store } from '../../../src/store/store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

describe('PostgreSQL migrations', () => {
  let pg: PgRig;
  beforeAll(() => { pg = startPostgres(); });
  afterAll(() => pg?.stop());

  it('one twin per SQLite migration, in the same order', () => {
    expect(PG_MIGRATIONS).toHaveLength(migrations.length);
    for (const [i, m] of migrations.entries()) {
      const tables = [...m.matchAll(/CREATE TABLE (\w+)/g)].map((x) => x[1]);
      const twinTables = [...PG_MIGRATIONS[i]!.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)].map((x) => x[1]);
      expect(twinTables, `migration ${i + 1}`).toEqual(tables);
    }
  });

  it('refuses SQLite syntax it has no twin for', () => {
    expect(() => pgTwin('CREATE TABLE t (a INTEGER) WITHOUT ROWID;')).toThrow(/no PostgreSQL twin/);
    expect(() => pgTwin('CREATE TRIGGER x AFTER INSERT ON t BEGIN DELETE FROM t; END;')).toThrow(/no PostgreSQL twin/);
  });

  it('gives every table the columns SQLite has, and applies once however often it runs', async () => {
    const s = new PsqlSession(pg.createDatabase('twins'));
    const sqlite = new Store(':memory:');
    try {
      expect(await migratePg(s)).toBe(migrations.length);
      expect(await migratePg(s)).toBe(0);
      const sqliteTables = (sqlite.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      const pgTables = (await s.rows<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'rackboot_schema' ORDER BY table_name")).map((r) => r.t);
      expect(pgTables).toEqual(sqliteTables);
      for (const table of sqliteTables) {
        const sqliteCols = (sqlite.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((r) => r.name);
        const pgCols = (await s.rows<{ c: string }>('SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [table]))
          .map((r) => r.c).filter((c) => c !== 'rowid' && !PG_ONLY.columns[table]?.includes(c));
        expect(pgCols, table).toEqual(sqliteCols);
      }
      const sqliteIndexes = (sqlite.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      const pgIndexes = (await s.rows<{ n: string }>("SELECT indexname AS n FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname")).map((r) => r.n).filter((n) => !PG_ONLY.indexes.includes(n) && !(n in PG_ENSURED_INDEXES));
      expect(pgIndexes).toEqual(sqliteIndexes);
    } finally {
      sqlite.close();
      await s.close();
    }
  });

  it('makes the indexes only PostgreSQL has on every migrate, and the extra-MAC lookup can use its index', async () => {
    const s = new PsqlSession(pg.createDatabase('ensured'));
    try {
      await migratePg(s);
      const indexes = async () => (await s.rows<{ n: string }>("SELECT indexname AS n FROM pg_indexes WHERE tablename = 'nodes'")).map((r) => r.n);
      expect(await indexes()).toContain('nodes_extra_macs');
      // A database migrated before the index existed: the next start makes it, and applies no migration again.
      await s.exec('DROP INDEX nodes_extra_macs');
      expect(await migratePg(s)).toBe(0);
      expect(await indexes()).toContain('nodes_extra_macs');
      // PgStore.nodeByMac's fallback asks with the indexed expression (with seq scans off, so a 0-row table still shows it).
      await s.exec('BEGIN');
      await s.exec('SET LOCAL enable_seqscan = off');
      const plan = (await s.rows<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT * FROM nodes WHERE in_inventory=1 AND ${NODE_EXTRA_MACS} ? '52:54:00:00:00:09' ORDER BY rowid LIMIT 1`))
        .map((r) => r['QUERY PLAN']).join('\n');
      await s.exec('ROLLBACK');
      expect(plan).toMatch(/Index Scan on nodes_extra_macs/);
    } finally {
      await s.close();
    }
  });

  it('takes a database made by the first slices (cluster_state and leases only) without losing a row', async () => {
    const s = new PsqlSession(pg.createDatabase('legacy'));
    try {
      await s.exec(`CREATE TABLE cluster_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL);
        INSERT INTO cluster_state VALUES ('talos.bootstrap', 'bootstrapped', 1);
        CREATE TABLE rackboot_schema (version INTEGER NOT NULL); INSERT INTO rackboot_schema VALUES (1), (2)`);
      expect(await migratePg(s)).toBe(migrations.length);
      expect(await s.rows('SELECT max(version) AS v FROM rackboot_schema')).toEqual([{ v: migrations.length }]);
      expect(await s.rows('SELECT key, value FROM cluster_state')).toEqual([{ key: 'talos.bootstrap', value: 'bootstrapped' }]);
      expect(await s.rows('SELECT count(*)::int AS n FROM nodes')).toEqual([{ n: 0 }]);
    } finally {
      await s.close();
    }
  });
});
