// The store turning read-only under a running appliance, on both backends.
// SQLite: PRAGMA query_only (every write fails with SQLITE_READONLY, as on a
// read-only remount). PostgreSQL (`store: postgres://…`, the appliance's
// SharedStore): the database set to default_transaction_read_only and its
// sessions ended, as when the server fails over to a read-only standby; the
// appliance reconnects after its back-off and every write fails with
// SQLSTATE 25006. What needs no write keeps answering; what does fails
// clearly and records nothing; machines are told to retry; it all recovers
// when writes return.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../helpers/appliance.js';
import { newMetrics, processDatagram } from '../../src/dhcp/answer.js';
import { OfferBook, type HandlerContext } from '../../src/dhcp/handler/common.js';
import { Leases } from '../../src/dhcp/leases.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { lit, PsqlSession } from '../../src/store/pg/psql-session.js';
import { ipxeBiosDiscover, ipxeBiosRequest } from '../dhcp/fixtures.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { BACKENDS } from '../store/backends.js';

const CP1 = '52:54:00:12:34:01';
let databases = 0;

describe.each(BACKENDS)('a read-only store on %s', (kind) => {
  let a: TestAppliance;
  let pg: PgRig | undefined;
  let database = '';
  if (kind === 'postgres') {
    beforeAll(() => { pg = startPostgres(); });
    afterAll(() => pg?.stop());
  }

  beforeEach(async () => {
    database = `readonly_${process.pid}_${++databases}`;
    const conninfo = pg?.createDatabase(database);
    a = await testAppliance(conninfo ? { openStore: (file) => new SharedStore(file, conninfo) } : {});
  });
  afterEach(async () => { a.store.db.pragma('query_only = OFF'); await a.close(); });

  /** PostgreSQL: new sessions read-only (or not), the current ones ended; returns once the store has reconnected and reads. */
  async function pgReadOnly(on: boolean): Promise<void> {
    const admin = new PsqlSession(pg!.conninfo());
    try {
      await admin.exec(`ALTER DATABASE ${database} SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
      await admin.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${lit(database)} AND pid <> pg_backend_pid()`);
    } finally {
      await admin.close();
    }
    const shared = (a.store as SharedStore).shared;
    for (const until = Date.now() + 10_000; ;) {
      try {
        shared.getNode('cp-1');
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  const readOnly = async (on: boolean) => (kind === 'sqlite' ? void a.store.db.pragma(`query_only = ${on ? 'ON' : 'OFF'}`) : pgReadOnly(on));

  it('reads keep answering: health, node list, boot assets, the chain script', async () => {
    await readOnly(true);
    expect((await a.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const nodes = await a.admin.inject({ url: '/api/nodes', headers: ADMIN_HEADERS });
    expect(nodes.statusCode).toBe(200);
    expect(nodes.json().nodes.map((n: { name: string }) => n.name)).toContain('cp-1');
    const rel = a.assetDir.slice(a.settings.assetsDir.length + 1);
    const kernel = await a.app.inject({ url: `/assets/${rel}/kernel-amd64` });
    expect(kernel.statusCode).toBe(200);
    expect(kernel.rawPayload.length).toBe(100_000);
    expect((await a.app.inject({ url: '/boot.ipxe' })).body).toMatch(/^#!ipxe/);
  });

  it('a machine asking for its script is told to retry (never a 500 that makes it boot its next device), and nothing is recorded', async () => {
    const before = a.store.getNode('cp-1')!;
    const eventsBefore = a.store.events({ node: 'cp-1' }).length;
    await readOnly(true);
    const res = await a.app.inject({ url: `/ipxe?mac=${CP1}&arch=x86_64`, remoteAddress: '10.77.0.11' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^#!ipxe/);
    expect(res.body).toContain('cannot write its store');
    expect(res.body).toMatch(new RegExp(`chain --autofree \\S+/ipxe\\?mac=${CP1}&arch=x86_64 \\|\\| goto retry`));
    expect(res.body).not.toContain('kernel ');
    await readOnly(false);
    expect(a.store.getNode('cp-1')!.state).toBe(before.state);
    expect(a.store.events({ node: 'cp-1' })).toHaveLength(eventsBefore);
    // Writable again: the same request installs, as it would have.
    const again = await a.app.inject({ url: `/ipxe?mac=${CP1}&arch=x86_64`, remoteAddress: '10.77.0.11' });
    expect(again.body).toContain('kernel ');
    expect(a.store.getNode('cp-1')!.state).toBe('booting');
  });

  it('an API write answers 503 with the cause and Retry-After, not a generic 500', async () => {
    await readOnly(true);
    const res = await a.admin.inject({ method: 'POST', url: '/api/nodes/worker-1/reimage', headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' }, payload: '{"reason":"test"}' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.json().message).toMatch(/cannot write its store/);
  });

  it('an inventory edit is refused with the reason, and the last good inventory stays live', async () => {
    await readOnly(true);
    const file = a.watcher.file;
    writeFileSync(file, readFileSync(file, 'utf8').replace('name: cp-1', 'name: cp-9'));
    expect(a.watcher.reload()).toBe(false);
    expect(a.watcher.status.ok).toBe(false);
    expect(a.watcher.status.errors[0]!.message).toMatch(/inventory could not be stored: .*read-?only/i);
    expect(a.watcher.inventory!.nodes.map((n) => n.name)).toContain('cp-1');
    await readOnly(false);
    expect(a.watcher.reload()).toBe(true);
    expect(a.watcher.inventory!.nodes.map((n) => n.name)).toContain('cp-9');
  });

  it('DHCP still offers, ACKs no binding it cannot store, and records nothing', async () => {
    const ctx: HandlerContext = {
      settings: { ...a.settings, dhcp: { ...a.settings.dhcp, mode: 'full', subnet: '10.77.0.0/24' } }, store: a.store, lifecycle: a.lifecycle,
      leases: new Leases(a.store.db), serverAddress: '10.77.0.1', publicUrl: a.ctx.publicUrl, inTftpRoot: () => false,
      offers: new OfferBook(Date.now), log: a.ctx.log, now: Date.now,
    };
    const metrics = newMetrics();
    const answer = (msg: Buffer) => processDatagram(ctx, metrics, msg, { address: '0.0.0.0', port: 68 }, 'dhcp')?.outcome;
    const eventsBefore = a.store.events({ node: 'cp-1' }).length;
    await readOnly(true);
    expect(answer(ipxeBiosDiscover())).toMatchObject({ type: 'offer', packet: { yiaddr: '10.77.0.11' } });
    expect(answer(ipxeBiosRequest('10.77.0.1', '10.77.0.11'))).toBeUndefined();
    expect(metrics.drops).toEqual({ 'store-failed': 1 });
    await readOnly(false);
    expect(a.store.events({ node: 'cp-1' })).toHaveLength(eventsBefore);
    expect(ctx.leases.get(CP1)).toBeUndefined();
    // Writable again: the same REQUEST is ACKed.
    expect(answer(ipxeBiosRequest('10.77.0.1', '10.77.0.11'))).toMatchObject({ type: 'ack' });
    expect(ctx.leases.get(CP1)).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
  });

  // PostgreSQL only: the database unreachable (here: it stops taking connections and the appliance's session is ended;
  // a stopped server or a lost path looks the same to the appliance). Reads fail too, so DHCP answers nothing.
  if (kind === 'postgres') {
    it('the database unreachable: the script says retry, writes 503, the inventory edit is refused, DHCP drops as store-failed; all back after', async () => {
      const before = a.store.getNode('cp-1')!;
      const eventsBefore = a.store.events({ node: 'cp-1' }).length;
      const admin = new PsqlSession(pg!.conninfo());
      const connections = (allow: boolean) => admin.exec(`ALTER DATABASE ${database} ALLOW_CONNECTIONS ${allow}`);
      try {
        await connections(false);
        await admin.exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${lit(database)}`);
        const script = await a.app.inject({ url: `/ipxe?mac=${CP1}&arch=x86_64`, remoteAddress: '10.77.0.11' });
        expect(script.statusCode).toBe(200);
        expect(script.body).toContain('cannot write its store');
        expect(script.body).not.toContain('kernel ');
        const write = await a.admin.inject({ method: 'POST', url: '/api/nodes/worker-1/reimage', headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' }, payload: '{"reason":"test"}' });
        expect(write.statusCode).toBe(503);
        const file = a.watcher.file;
        writeFileSync(file, readFileSync(file, 'utf8').replace('name: cp-1', 'name: cp-9'));
        expect(a.watcher.reload()).toBe(false);
        expect(a.watcher.status.errors[0]!.message).toMatch(/inventory could not be stored: .*(session|not currently accepting connections)/);
        expect(a.watcher.inventory!.nodes.map((n) => n.name)).toContain('cp-1');
        const ctx: HandlerContext = {
          settings: { ...a.settings, dhcp: { ...a.settings.dhcp, mode: 'full', subnet: '10.77.0.0/24' } }, store: a.store, lifecycle: a.lifecycle,
          leases: new Leases(a.store.db), serverAddress: '10.77.0.1', publicUrl: a.ctx.publicUrl, inTftpRoot: () => false,
          offers: new OfferBook(Date.now), log: a.ctx.log, now: Date.now,
        };
        const metrics = newMetrics();
        expect(processDatagram(ctx, metrics, ipxeBiosDiscover(), { address: '0.0.0.0', port: 68 }, 'dhcp')?.outcome).toBeUndefined();
        expect(metrics.drops).toEqual({ 'store-failed': 1 });
      } finally {
        await connections(true);
        await admin.close();
      }
      await pgReadOnly(false);
      expect(a.store.getNode('cp-1')).toMatchObject({ state: before.state, markedForInstall: before.markedForInstall });
      expect(a.store.events({ node: 'cp-1' })).toHaveLength(eventsBefore);
      expect(a.watcher.reload()).toBe(true);
      expect(a.watcher.inventory!.nodes.map((n) => n.name)).toContain('cp-9');
    });
  }
});
