// `rackboot bootstrap` with scaleOut.postgres (a real PostgreSQL 15 started
// here): it waits while another appliance leads the Talos steps, and it
// reads the bootstrap outcome from PostgreSQL rather than its own SQLite.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrap } from '../../src/cli/bootstrap.js';
import { parseCommandArgs } from '../../src/cli/command.js';
import { BOOTSTRAP_KEY } from '../../src/lifecycle/cluster-state.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { Store } from '../../src/store/store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { makeRack, type Rack } from '../talos/cluster-fixture.js';

let pg: PgRig;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

let rack: Rack | undefined;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await rack?.close();
  rack = undefined;
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await bootstrap.run(parseCommandArgs(bootstrap, argv), { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** This appliance's settings and talosconfig, and another appliance on the same database. */
async function setup(db: string): Promise<{ common: string[]; other: PgCoordination }> {
  rack = await makeRack([]);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  writeFileSync(join(rack.dir, 'talosconfig'), stringify({
    context: 'a', contexts: { a: { ca: b64(rack.pki.osCa.crt), crt: b64(rack.pki.admin.crt), key: b64(rack.pki.admin.key) } },
  }));
  const conninfo = pg.createDatabase(db);
  const config = join(rack.dir, 'rackboot.yaml');
  writeFileSync(config, stringify({ dataDir: rack.dir, scaleOut: { postgres: conninfo } }));
  const otherStore = new Store(join(rack.dir, 'other.db'));
  const other = new PgCoordination({ conninfo, local: otherStore });
  cleanup.push(() => otherStore.close(), () => other.close());
  return { common: ['--config', config], other };
}

describe('rackboot bootstrap on a shared PostgreSQL', () => {
  it('does nothing while another appliance leads the Talos steps, and says so', async () => {
    const { common, other } = await setup('cli_led_elsewhere');
    expect(await other.lead()).toBe(true);
    const r = await run(common);
    expect(r.code).toBe(1);
    expect(r.err).toContain('another appliance leads the Talos steps');
  });

  it('reads the outcome another appliance recorded, though its own SQLite says pending', async () => {
    const { common, other } = await setup('cli_shared_outcome');
    expect(await other.lead()).toBe(true);
    await other.set(BOOTSTRAP_KEY, 'bootstrapped');
    await other.close(); // that appliance stops: the lock is free
    expect(rack!.store.getClusterState(BOOTSTRAP_KEY)).toBeUndefined();
    expect(await run(common)).toEqual({ code: 0, out: 'already bootstrapped; Bootstrap not sent', err: '' });
    expect(rack!.store.getClusterState(BOOTSTRAP_KEY)).toBe('bootstrapped');
  });
});
