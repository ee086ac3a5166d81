// `rackboot doctor` with scaleOut.postgres, against a real PostgreSQL 15:
// an unreachable server, a schema behind and ahead of this version, who
// leads (and a leader gone quiet), and clock skew against the server.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctor } from '../../../src/cli/doctor.js';
import { PgCoordination } from '../../../src/store/pg/coordination.js';
import { postgresFindings, type DbFinding } from '../../../src/store/pg/doctor-findings.js';
import { redactConninfo } from '../../../src/settings/conninfo.js';
import { PG_MIGRATIONS } from '../../../src/store/pg/migrations.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { Store } from '../../../src/store/store.js';
import { runCommand } from '../../cli/run-command.js';
import { usePgAndTempDir } from '../../helpers/postgres.js';

const rig = usePgAndTempDir('rackboot-pgdoc-');

const by = (fs: DbFinding[], check: string) => fs.find((f) => f.check === check);

describe('doctor: the shared database', () => {
  it('an unreachable server is a failure with a fix', async () => {
    const fs = await postgresFindings(`host=${join(rig.dir, 'no-server-here')} user=rackboot dbname=x`);
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({ level: 'fail', check: 'shared database', fix: expect.stringContaining('check store (or its older name scaleOut.postgres) in rackboot.yaml') });
  });

  it('a fresh database: reachable, schema behind, nobody leads; then a leader is named, and a quiet one is called hung', async () => {
    const conninfo = rig.pg.createDatabase('doc_fresh');
    let fs = await postgresFindings(conninfo);
    expect(by(fs, 'shared database')).toMatchObject({ level: 'ok', detail: expect.stringContaining('PostgreSQL 15') });
    expect(by(fs, 'database schema')).toMatchObject({ level: 'warn', detail: `version 0, this rackboot expects ${PG_MIGRATIONS.length}` });
    expect(by(fs, 'Talos leader')).toMatchObject({ level: 'warn', detail: expect.stringContaining('no appliance leads') });
    expect(by(fs, 'clock skew')).toMatchObject({ level: 'ok' });

    const local = new Store(join(rig.dir, 'leader.db'));
    const leader = new PgCoordination({ conninfo, local, instanceName: 'rack-a pid 42', keepaliveMs: 60_000 });
    try {
      expect(await leader.lead()).toBe(true);
      fs = await postgresFindings(conninfo);
      expect(by(fs, 'database schema')).toMatchObject({ level: 'ok', detail: `version ${PG_MIGRATIONS.length}` });
      expect(by(fs, 'Talos leader')).toMatchObject({ level: 'ok', detail: expect.stringMatching(/^rack-a pid 42 \(backend pid \d+\), last confirmed/) });
      // Its keepalive is a minute away: with a 300 ms lease the doctor calls it hung.
      await new Promise((r) => setTimeout(r, 600));
      fs = await postgresFindings(conninfo, { leaseMs: 300 });
      expect(by(fs, 'Talos leader')).toMatchObject({ level: 'warn', detail: expect.stringContaining('looks hung') });
    } finally {
      await leader.close();
      local.close();
    }
  });

  it('a schema newer than this version fails; clock skew warns, then fails', async () => {
    const conninfo = rig.pg.createDatabase('doc_newer');
    const s = new PsqlSession(conninfo);
    await s.exec(`CREATE TABLE rackboot_schema (version INTEGER NOT NULL); INSERT INTO rackboot_schema VALUES (${PG_MIGRATIONS.length + 1})`);
    await s.close();
    let fs = await postgresFindings(conninfo, { now: () => Date.now() - 5000 });
    expect(by(fs, 'database schema')).toMatchObject({ level: 'fail', fix: expect.stringContaining('upgrade rackboot') });
    expect(by(fs, 'clock skew')).toMatchObject({ level: 'warn', detail: expect.stringMatching(/this box is \d+ ms behind/) });
    fs = await postgresFindings(conninfo, { now: () => Date.now() + 60_000 });
    expect(by(fs, 'clock skew')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/ahead of the database server/) });
  });

  it('rackboot doctor runs these checks when store: names the database, and hides a password', async () => {
    const conninfo = rig.pg.createDatabase('doc_cli');
    const cfg = join(rig.dir, 'rackboot.yaml');
    writeFileSync(cfg, `dataDir: ${join(rig.dir, 'data')}\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\ninventory: ${join(rig.dir, 'none.yaml')}\nstore: "${conninfo}"\n`);
    const r = await runCommand(doctor, ['--config', cfg, '--json']);
    const fs = JSON.parse(r.out) as DbFinding[];
    expect(by(fs, 'shared database')).toMatchObject({ level: 'ok' });
    expect(by(fs, 'Talos leader')).toMatchObject({ level: 'warn' });
    expect(redactConninfo('postgres://rb:s3cret@db:5432/rackboot')).toBe('postgres://rb:***@db:5432/rackboot');
    expect(redactConninfo('host=db password=s3cret user=rb')).toBe('host=db password=*** user=rb');
  });
});
