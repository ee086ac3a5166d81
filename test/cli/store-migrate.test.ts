// `rackboot store migrate --from sqlite://… --to postgres://…` with a real
// store file and a real PostgreSQL 15: the shared rows copied with counts,
// the appliance's own keys left behind, a non-empty target refused unless
// --force, a leading appliance refused always, and all-or-nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeMigrate } from '../../src/cli/store-migrate.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../../src/lifecycle/cluster-state.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { Store } from '../../src/store/store.js';
import { TALOS_SERVICE_KEY } from '../../src/talos/service.js';
import { runCli } from '../helpers/cli.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { runCommand } from './run-command.js';

let pg: PgRig;
let dir: string;
beforeAll(() => {
  pg = startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'rackboot-migrate-'));
});
afterAll(() => {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const RESET = JSON.stringify({ mark: 1764000000000, phase: 'sent', at: 1764000000500 });

/** An appliance's store file with cluster state worth moving, and one key that is its own. */
function applianceStore(name: string, extra: Record<string, string> = {}): string {
  const file = join(dir, `${name}.db`);
  const store = new Store(file);
  store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
  store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
  store.setClusterState('reset:w1', RESET);
  store.setClusterState(TALOS_SERVICE_KEY, JSON.stringify({ state: 'running', detail: "it's up", since: 1, pid: 4242 }));
  for (const [k, v] of Object.entries(extra)) store.setClusterState(k, v);
  store.close();
  return file;
}

const uri = (db: string) => `postgresql://rackboot@/${db}?host=${pg.dir}`;

async function rows(db: string): Promise<Record<string, string>> {
  const s = new PsqlSession(pg.conninfo(db));
  try {
    return Object.fromEntries((await s.rows<{ key: string; value: string }>('SELECT key, value FROM cluster_state')).map((r) => [r.key, r.value]));
  } finally {
    await s.close();
  }
}

describe('rackboot store migrate', () => {
  it('copies the shared rows in one go and prints the counts; the appliance\'s own key stays behind', async () => {
    const file = applianceStore('one', { note: 'quotes \' and "double" and ünïcode' });
    pg.createDatabase('mig_one');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_one')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cluster_state: 4 rows copied');
    expect(await rows('mig_one')).toEqual({
      [BOOTSTRAP_KEY]: 'bootstrapped', [BOOTSTRAP_NODE_KEY]: 'cp1', 'reset:w1': RESET, note: 'quotes \' and "double" and ünïcode',
    });
    const s = new PsqlSession(pg.conninfo('mig_one'));
    expect(await s.rows('SELECT max(version) AS v FROM rackboot_schema')).toEqual([{ v: PG_MIGRATIONS.length }]);
    await s.close();
  });

  it('refuses a target with rows unless --force, which replaces them', async () => {
    const file = applianceStore('two');
    pg.createDatabase('mig_two');
    expect((await runCommand(storeMigrate, ['--from', `sqlite://${file}`, '--to', uri('mig_two')])).code).toBe(0);
    const again = await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('two-b', { extra: 'x' })}`, '--to', uri('mig_two')]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('the target is not empty (cluster_state: 3 rows); --force replaces its rows');
    expect(Object.keys(await rows('mig_two'))).not.toContain('extra');
    const forced = await runCommand(storeMigrate, ['--from', `sqlite://${join(dir, 'two-b.db')}`, '--to', uri('mig_two'), '--force']);
    expect(forced).toMatchObject({ code: 0, out: expect.stringContaining('cluster_state: 4 rows copied (3 replaced)') });
    expect((await rows('mig_two')).extra).toBe('x');
  });

  it('all or nothing: a row PostgreSQL cannot take leaves the target as it was, even with --force', async () => {
    pg.createDatabase('mig_three');
    expect((await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('three')}`, '--to', uri('mig_three')])).code).toBe(0);
    const before = await rows('mig_three');
    const bad = applianceStore('three-bad', { zz: 'a NUL \0 inside' });
    const r = await runCommand(storeMigrate, ['--from', `sqlite://${bad}`, '--to', uri('mig_three'), '--force']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('NUL');
    expect(await rows('mig_three')).toEqual(before);
  });

  it('refuses a database an appliance is leading on, even with --force; bad arguments are usage errors', async () => {
    const conninfo = pg.createDatabase('mig_four');
    const local = new Store(':memory:');
    const leader = new PgCoordination({ conninfo, local });
    try {
      expect(await leader.lead()).toBe(true);
      const r = await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('four')}`, '--to', uri('mig_four'), '--force']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/an appliance leads the Talos steps on this database \(backend pid \d+\): stop rackboot serve/);
      expect(await rows('mig_four')).toEqual({});
    } finally {
      await leader.close();
      local.close();
    }
    expect((await runCommand(storeMigrate, ['--from', '/x.db', '--to', uri('mig_four')])).code).toBe(2);
    expect((await runCommand(storeMigrate, ['--from', 'sqlite:///x.db', '--to', 'mysql://x'])).code).toBe(2);
    expect(await runCommand(storeMigrate, ['--from', `sqlite://${join(dir, 'none.db')}`, '--to', uri('mig_four')])).toMatchObject({ code: 1, err: expect.stringContaining('no SQLite store at') });
  });
});
