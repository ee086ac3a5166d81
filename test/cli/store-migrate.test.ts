// `rackboot store migrate --from sqlite://… --to postgres://…` with a real
// store file and a real PostgreSQL 15: the shared rows copied with counts,
// the appliance's own keys left behind, a non-empty target refused unless
// --force, a leading appliance refused always, and all-or-nothing.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeMigrate } from '../../src/cli/store-migrate.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../../src/lifecycle/cluster-state.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { PG_MIGRATIONS } from '../../src/store/pg/migrations.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { Store } from '../../src/store/store.js';
import { Leases6 } from '../../src/dhcpv6/leases.js';
import { TALOS_SERVICE_KEY } from '../../src/talos/service.js';
import { runCli } from '../helpers/cli.js';
import { usePgAndTempDir } from '../helpers/postgres.js';
import { runCommand } from './run-command.js';

const rig = usePgAndTempDir('rackboot-migrate-');

const RESET = JSON.stringify({ mark: 1764000000000, phase: 'sent', at: 1764000000500 });

/** An appliance's store file with cluster state worth moving, and one key that is its own. */
function applianceStore(name: string, extra: Record<string, string> = {}): string {
  const file = join(rig.dir, `${name}.db`);
  const store = new Store(file);
  store.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
  store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
  store.setClusterState('reset:w1', RESET);
  store.setClusterState(TALOS_SERVICE_KEY, JSON.stringify({ state: 'running', detail: "it's up", since: 1, pid: 4242 }));
  for (const [k, v] of Object.entries(extra)) store.setClusterState(k, v);
  store.close();
  return file;
}

const uri = (db: string) => `postgresql://rackboot@/${db}?host=${rig.pg.dir}`;

async function rows(db: string): Promise<Record<string, string>> {
  const s = new PsqlSession(rig.pg.conninfo(db));
  try {
    return Object.fromEntries((await s.rows<{ key: string; value: string }>('SELECT key, value FROM cluster_state')).map((r) => [r.key, r.value]));
  } finally {
    await s.close();
  }
}

describe('rackboot store migrate', () => {
  it('copies the shared rows in one go and prints the counts; the appliance\'s own key stays behind', async () => {
    const file = applianceStore('one', { note: 'quotes \' and "double" and ünïcode' });
    rig.pg.createDatabase('mig_one');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_one')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cluster_state: 4 rows copied');
    expect(await rows('mig_one')).toEqual({
      [BOOTSTRAP_KEY]: 'bootstrapped', [BOOTSTRAP_NODE_KEY]: 'cp1', 'reset:w1': RESET, note: 'quotes \' and "double" and ünïcode',
    });
    const s = new PsqlSession(rig.pg.conninfo('mig_one'));
    expect(await s.rows('SELECT max(version) AS v FROM rackboot_schema')).toEqual([{ v: PG_MIGRATIONS.length }]);
    await s.close();
  });

  it('moves what pg-shared made shared: the admin login, a reimage mark, config and hardware records, boot tokens', async () => {
    const file = applianceStore('shared-rows');
    const store = new Store(file);
    store.db.exec(`
      INSERT INTO admin_token (id, hash, source, created_at) VALUES (1, 'h-token', 'settings', 1);
      INSERT INTO admin_sessions (id_hash, csrf, created_at, expires_at) VALUES ('h-session', 'c', 1, 9999999999999);
      INSERT INTO reimage_marks (node, state_since, marked_at, marked_by, reason, previous_state, previous_marked)
        VALUES ('w1', 5, 6, 'cli', 'disk swapped', 'ready', 0);
      INSERT INTO node_config (node, applied_sha256) VALUES ('w1', 'abc');
      INSERT INTO node_hardware (node, mac, endpoint, facts_json, read_at, install_disk) VALUES ('w1', '52:54:00:00:00:01', '10.0.0.5', '{}', 1, '/dev/nvme0n1');
      INSERT INTO boot_tokens (node, mac, token_hash, issued_at, issued_to) VALUES ('w1', '52:54:00:00:00:01', 'h-boot', 1, '10.0.0.5');
    `);
    store.close();
    rig.pg.createDatabase('mig_shared');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_shared')]);
    expect(r.code).toBe(0);
    for (const table of ['reimage_marks', 'boot_tokens', 'node_config', 'node_hardware', 'admin_token', 'admin_sessions']) expect(r.stdout).toContain(`${table}: 1 rows copied`);
    const s = new PsqlSession(rig.pg.conninfo('mig_shared'));
    try {
      expect(await s.rows('SELECT hash FROM admin_token')).toEqual([{ hash: 'h-token' }]);
      expect(await s.rows('SELECT id_hash FROM admin_sessions')).toEqual([{ id_hash: 'h-session' }]);
      expect(await s.rows('SELECT install_disk FROM node_hardware')).toEqual([{ install_disk: '/dev/nvme0n1' }]);
      // The next mark gets an id after the copied one, so a Reset keyed by it is never taken for the old mark's.
      await s.exec(`INSERT INTO reimage_marks (node, state_since, marked_at, marked_by, reason, previous_state, previous_marked) VALUES ('w1', 7, 8, 'cli', 'again', 'ready', 0)`);
      expect((await s.rows<{ id: string }>('SELECT id FROM reimage_marks ORDER BY id')).map((m) => Number(m.id))).toEqual([1, 2]);
    } finally {
      await s.close();
    }
  });

  it('moves what pg-local made shared: a UKI fetch still waiting, a commissioning record, a reported hostname', async () => {
    const file = applianceStore('local-rows');
    const store = new Store(file);
    store.db.exec(`
      INSERT INTO uki_fetches (node, mac, name, served_at, served_to) VALUES ('w1', '52:54:00:00:00:01', 'metal-amd64-secureboot-uki.efi', 7, '10.0.0.5');
      INSERT INTO discovered_hardware (mac, state, booted_at, endpoint, facts_json, read_at) VALUES ('52:54:00:aa:bb:cc', 'read', 1, '10.0.0.9:50000', '{"disks":[]}', 2);
      INSERT INTO node_hostname (node, hostname, domainname, seen_in, read_at) VALUES ('w1', 'talos-abc', 'rack', 'installed', 3);
    `);
    store.close();
    rig.pg.createDatabase('mig_local');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_local')]);
    expect(r.code).toBe(0);
    for (const table of ['uki_fetches', 'discovered_hardware', 'node_hostname']) expect(r.stdout).toContain(`${table}: 1 rows copied`);
    const s = new PsqlSession(rig.pg.conninfo('mig_local'));
    try {
      expect(await s.rows('SELECT node, served_at FROM uki_fetches')).toEqual([{ node: 'w1', served_at: 7 }]);
      expect(await s.rows('SELECT mac, state, facts_json FROM discovered_hardware')).toEqual([{ mac: '52:54:00:aa:bb:cc', state: 'read', facts_json: '{"disks":[]}' }]);
      expect(await s.rows('SELECT hostname, seen_in FROM node_hostname')).toEqual([{ hostname: 'talos-abc', seen_in: 'installed' }]);
    } finally {
      await s.close();
    }
  });

  it('moves the upgrade rollouts with their node steps, without the appliance-local process that drove one', async () => {
    const file = applianceStore('rollouts');
    const store = new Store(file);
    store.db.exec(`
      INSERT INTO rollouts (kind, target_version, schematic, image, state, reason, assets_ready, driver_pid, created_at, updated_at)
        VALUES ('talos', 'v1.13.1', 's1', 'img1', 'done', '', 1, NULL, 1, 2),
               ('talos', 'v1.13.2', 's2', 'img2', 'running', '', 1, 4242, 3, 4);
      INSERT INTO rollout_nodes (rollout_id, node, role, ord, state, version_before, version_after, reason, started_at, finished_at)
        VALUES (2, 'w1', 'worker', 0, 'called', 'v1.13.1', '', '', 5, NULL), (2, 'w2', 'worker', 1, 'pending', 'v1.13.1', '', '', NULL, NULL);
    `);
    store.close();
    rig.pg.createDatabase('mig_rollouts');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_rollouts')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rollouts: 2 rows copied');
    expect(r.stdout).toContain('rollout_nodes: 2 rows copied');
    const s = new PsqlSession(rig.pg.conninfo('mig_rollouts'));
    try {
      expect((await s.rows('SELECT id, state, driver_pid FROM rollouts ORDER BY id')).map((x) => ({ ...x, id: Number(x.id) })))
        .toEqual([{ id: 1, state: 'done', driver_pid: null }, { id: 2, state: 'running', driver_pid: null }]);
      expect(await s.rows(`SELECT node, state FROM rollout_nodes WHERE rollout_id = 2 ORDER BY ord`)).toEqual([{ node: 'w1', state: 'called' }, { node: 'w2', state: 'pending' }]);
      // The next rollout gets an id after the copied ones.
      const [next] = await s.rows<{ id: string }>(`INSERT INTO rollouts (kind, target_version, schematic, image, state, created_at, updated_at)
        VALUES ('talos', 'v1.13.3', 's3', 'img3', 'running', 6, 6) RETURNING id`);
      expect(Number(next!.id)).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('copies the DHCPv6 leases (branch pg-dhcp6): the new answerer\'s book is the old appliance\'s', async () => {
    const file = join(rig.dir, 'v6.db');
    const store = new Store(file);
    const v6 = new Leases6(store.db);
    v6.bind('52:54:00:00:06:01', 7, '2001:db8::1000', 3600, '00030001525400000601');
    v6.decline('52:54:00:00:06:02', '2001:db8::1001', 600, '00030001525400000602');
    const expected = store.db.prepare('SELECT client, iaid, ip, state, expires_at, duid FROM dhcpv6_leases ORDER BY ip').all();
    store.close();
    rig.pg.createDatabase('mig_v6');
    const r = runCli(['store', 'migrate', '--from', `sqlite://${file}`, '--to', uri('mig_v6')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dhcpv6_leases: 2 rows copied');
    const s = new PsqlSession(rig.pg.conninfo('mig_v6'));
    try {
      expect(await s.rows('SELECT client, iaid, ip, state, expires_at, duid FROM dhcpv6_leases ORDER BY ip')).toEqual(expected);
    } finally {
      await s.close();
    }
  });

  it('never prints a password given in --to, on success or failure', async () => {
    rig.pg.createDatabase('mig_pw');
    // The rig trusts local connections, so the password is sent to no one and only the printing is tested.
    const withPassword = `postgresql://rackboot:s3cret@/mig_pw?host=${rig.pg.dir}`;
    const ok = await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('pw')}`, '--to', withPassword]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('rackboot:***@');
    const refused = await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('pw2')}`, '--to', `postgresql://rackboot:s3cret@/no_such_db?host=${rig.pg.dir}`]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('rackboot:***@');
    expect(`${ok.out}${ok.err}${refused.out}${refused.err}`).not.toContain('s3cret');
  });

  it('refuses a target with rows unless --force, which replaces them', async () => {
    const file = applianceStore('two');
    rig.pg.createDatabase('mig_two');
    expect((await runCommand(storeMigrate, ['--from', `sqlite://${file}`, '--to', uri('mig_two')])).code).toBe(0);
    const again = await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('two-b', { extra: 'x' })}`, '--to', uri('mig_two')]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('the target is not empty (cluster_state: 3 rows); --force replaces its rows');
    expect(Object.keys(await rows('mig_two'))).not.toContain('extra');
    const forced = await runCommand(storeMigrate, ['--from', `sqlite://${join(rig.dir, 'two-b.db')}`, '--to', uri('mig_two'), '--force']);
    expect(forced).toMatchObject({ code: 0, out: expect.stringContaining('cluster_state: 4 rows copied (3 replaced)') });
    expect((await rows('mig_two')).extra).toBe('x');
  });

  it('all or nothing: a row PostgreSQL cannot take leaves the target as it was, even with --force', async () => {
    rig.pg.createDatabase('mig_three');
    expect((await runCommand(storeMigrate, ['--from', `sqlite://${applianceStore('three')}`, '--to', uri('mig_three')])).code).toBe(0);
    const before = await rows('mig_three');
    const bad = applianceStore('three-bad', { zz: 'a NUL \0 inside' });
    const r = await runCommand(storeMigrate, ['--from', `sqlite://${bad}`, '--to', uri('mig_three'), '--force']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('NUL');
    expect(await rows('mig_three')).toEqual(before);
  });

  it('refuses a database an appliance is leading on, even with --force; bad arguments are usage errors', async () => {
    const conninfo = rig.pg.createDatabase('mig_four');
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
    expect(await runCommand(storeMigrate, ['--from', `sqlite://${join(rig.dir, 'none.db')}`, '--to', uri('mig_four')])).toMatchObject({ code: 1, err: expect.stringContaining('no SQLite store at') });
  });
});
