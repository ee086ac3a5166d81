// Leadership and the shared cluster_state on a real PostgreSQL 15: one leader
// at a time, the lock freed when the leader's session dies, no shared write
// from an instance that does not lead, a dead leader's claim void at once,
// shared values mirrored into the new leader's own store, and the shared
// table made from the SQLite migration's own text.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PgCoordination } from '../../../src/store/pg/coordination.js';
import { PG_MIGRATIONS, pgTableDdl, SHARED_TABLES } from '../../../src/store/pg/migrations.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { Store } from '../../../src/store/store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

let pg: PgRig;
let n = 0;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

const open: { close(): unknown }[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function pair(): { a: PgCoordination; b: PgCoordination; sa: Store; sb: Store } {
  const conninfo = pg.createDatabase(`coord_${++n}`);
  dir = mkdtempSync(join(tmpdir(), 'rackboot-coord-'));
  const sa = new Store(join(dir, 'a.db'));
  const sb = new Store(join(dir, 'b.db'));
  const a = new PgCoordination({ conninfo, local: sa });
  const b = new PgCoordination({ conninfo, local: sb });
  open.push(sa, sb, a, b);
  return { a, b, sa, sb };
}

async function until(cond: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('PostgreSQL coordination', () => {
  it('one leader at a time; the lock passes on when the leader session dies, and the old leader cannot write', async () => {
    const { a, b } = pair();
    expect(await a.lead()).toBe(true);
    expect(await b.lead()).toBe(false);
    expect(await a.lead()).toBe(true);
    await expect(b.set('k', 'from b')).rejects.toThrow(/not leading/);
    await a.set('k', 'from a');
    await a.killSession();
    expect(await until(() => b.lead())).toBe(true);
    expect(await a.lead()).toBe(false); // a new session, but b holds the lock
    await expect(a.set('k', 'stale a')).rejects.toThrow(/not leading/);
    expect(await b.get('k')).toBe('from a');
  });

  it('a claim is exclusive while its holder leads, and void as soon as the holder session is gone', async () => {
    const { a, b } = pair();
    const now = Date.now();
    expect(await a.lead()).toBe(true);
    expect(await a.claim('c', 'owner-a', now, 60_000)).toBe(true);
    expect(await a.claim('c', 'owner-a2', now, 60_000)).toBe(false); // unexpired, its session alive
    await a.killSession();
    expect(await until(() => b.lead())).toBe(true);
    expect(await b.claim('c', 'owner-b', now, 60_000)).toBe(true); // well before the 60 s expiry
    await b.release('c', 'owner-b');
    expect(JSON.parse((await b.get('c'))!)).toMatchObject({ owner: '', until: 0 });
  });

  it('mirrors the shared values into the leader\'s own store when it takes over', async () => {
    const { a, b, sb } = pair();
    expect(await a.lead()).toBe(true);
    await a.set('talos.bootstrap', 'bootstrapping');
    expect(sb.getClusterState('talos.bootstrap')).toBeUndefined();
    await a.close();
    expect(await until(() => b.lead())).toBe(true);
    expect(sb.getClusterState('talos.bootstrap')).toBe('bootstrapping');
  });

  it('the shared tables have the SQLite columns, from the same migration text', async () => {
    const { a, b, sa } = pair();
    expect(await a.lead()).toBe(true); // connects and migrates
    expect(await b.lead()).toBe(false); // connects and migrates again: nothing to do
    expect(pgTableDdl('cluster_state')).toMatch(/^CREATE TABLE cluster_state \(/);
    expect(pgTableDdl('cluster_state')).toMatch(/updated_at BIGINT NOT NULL/);
    const s = new PsqlSession(pg.conninfo(`coord_${n}`));
    open.push(s);
    for (const table of SHARED_TABLES) {
      const pgCols = (await s.rows<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`)).map((r) => r.c).filter((c) => c !== 'rowid');
      const sqliteCols = (sa.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((r) => r.name);
      // branch pg-dhcp: PostgreSQL's leases also count changes (rev), for the DHCP answerer's per-batch read.
      expect(pgCols).toEqual(table === 'leases' ? [...sqliteCols, 'rev'] : sqliteCols);
    }
    // A second instance migrating the same database changes nothing.
    expect((await s.rows<{ v: number }>('SELECT count(*)::int AS v FROM rackboot_schema'))[0]!.v).toBe(PG_MIGRATIONS.length);
  });
});
