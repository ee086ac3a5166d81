// On a shared segment PostgreSQL decides what is allocated (issue 21, branch
// pg-dhcp): the answerer's local book is PostgreSQL's lease table, read
// whole when it takes the segment and for what changed before every batch,
// so when two appliances' books disagree, PostgreSQL's rows win. RELEASEs
// wait in the local store until PostgreSQL has them; a standby mirrors the
// table (the page and /metrics read the local book). Real PostgreSQL 15.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { answerBatch, newMetrics, StoreRefusals, type Reply } from '../../src/dhcp/answer.js';
import { answerShared, replaceBook, withReleasedExpiry } from '../../src/dhcp/sharing.js';
import { sqliteOutbox } from '../../src/dhcp/freed-outbox.js';
import { DHCP_LOCK_CLASS, PgDhcpSegment } from '../../src/store/pg/dhcp-segment.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import type { Leases } from '../../src/dhcp/leases.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { plainDiscover, plainRequest } from './fixtures.js';
import { makeContext, SERVER, settingsWith, type TestContext } from './context.js';

const CLIENT = { address: '0.0.0.0', port: 68 };
const M = (n: number) => [0x02, 0, 0, 0, 0, n];
const mac = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;

let pg: PgRig;
let dbs = 0;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function appliance(pool: { start: string; end: string }): TestContext {
  const ctx = makeContext(settingsWith({ pool }));
  open.push(ctx.store);
  return ctx;
}

async function share(conninfo: string, ctx: TestContext, pollMs = 50): Promise<PgDhcpSegment> {
  const seg = await PgDhcpSegment.start({
    conninfo, segment: 'seg', pollMs, now: ctx.now,
    adopt: (rows) => ctx.leases.adopt(rows), replace: (rows) => replaceBook(ctx.store.db, ctx.leases, rows), outbox: sqliteOutbox(ctx.store.db),
  });
  open.push(seg);
  return seg;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function sql<T>(conninfo: string, text: string, params?: unknown[]): Promise<T[]> {
  const s = new PsqlSession(conninfo);
  try {
    return await s.rows<T>(text, params);
  } finally {
    await s.close();
  }
}

/** One DHCP message through the shared path; the reply's type and address. */
async function ask(ctx: TestContext, seg: PgDhcpSegment, msg: Buffer): Promise<{ type?: string; ip?: string }> {
  const metrics = newMetrics();
  const [r] = await answerShared(ctx, seg, metrics, 1, () => answerBatch(ctx, metrics, [{ msg, from: CLIENT, via: 'dhcp' }], new StoreRefusals(ctx.log, ctx.now)));
  const reply = r as Reply | undefined;
  return { type: reply?.outcome.type, ip: reply?.outcome.packet.yiaddr ?? undefined };
}

async function lease(ctx: TestContext, seg: PgDhcpSegment, n: number, xid: number): Promise<string> {
  const offer = await ask(ctx, seg, plainDiscover(M(n), xid));
  const ack = await ask(ctx, seg, plainRequest(M(n), { server: SERVER, requested: offer.ip, xid }));
  expect(ack.type).toBe('ack');
  return ack.ip!;
}

describe('PostgreSQL allocates on a shared segment', () => {
  it('a new answerer drops the rows only its own book had: PostgreSQL\'s leases decide what it offers', async () => {
    const conninfo = pg.createDatabase(`alloc_${++dbs}`);
    const pool = { start: '10.77.0.100', end: '10.77.0.101' };
    const a = appliance(pool);
    const b = appliance(pool);
    // b's book from an earlier turn: .101 bound to a client PostgreSQL never heard of.
    b.leases.bind(mac(3), '10.77.0.101', 3600);
    const sa = await share(conninfo, a);
    const sb = await share(conninfo, b);
    expect(sa.answering() && !sb.answering()).toBe(true);
    expect(await lease(a, sa, 1, 0x101)).toBe('10.77.0.100');

    await sa.kill();
    await until(() => sb.answering());
    expect(b.leases.get(mac(3))).toBeUndefined();
    expect(b.leases.get(mac(1))).toMatchObject({ ip: '10.77.0.100', state: 'bound' });
    // The two-address pool: .100 is mac 1's in PostgreSQL, so .101 is free there and is what mac 4 gets.
    expect(await lease(b, sb, 4, 0x104)).toBe('10.77.0.101');
    expect(await ask(b, sb, plainDiscover(M(1), 0x105))).toEqual({ type: 'offer', ip: '10.77.0.100' });
    expect(await sql(conninfo, 'SELECT mac, ip FROM leases ORDER BY ip')).toEqual([{ mac: mac(1), ip: '10.77.0.100' }, { mac: mac(4), ip: '10.77.0.101' }]);
  });

  it('before each batch the answerer reads what was committed since its last read, and never offers it', async () => {
    const conninfo = pg.createDatabase(`alloc_${++dbs}`);
    const a = appliance({ start: '10.77.0.100', end: '10.77.0.102' });
    const sa = await share(conninfo, a, 60_000); // no polls in between: only the per-batch read can see the row
    expect(await lease(a, sa, 1, 0x201)).toBe('10.77.0.100');
    // Another writer (a late delivery, an operator, `store migrate`) binds .101.
    await sql(conninfo, `INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ($1, '10.77.0.101', 'bound', $2, $3)`, [mac(9), a.now() + 3_600_000, a.now()]);
    expect(await ask(a, sa, plainDiscover(M(5), 0x202))).toEqual({ type: 'offer', ip: '10.77.0.102' });
    expect(a.leases.get(mac(9))).toMatchObject({ ip: '10.77.0.101', state: 'bound' });
  });
});

describe('RELEASE and DECLINE reach PostgreSQL durably', () => {
  it('a release recorded while the database session is gone waits in the local store, and lands after a restart', async () => {
    const conninfo = pg.createDatabase(`alloc_${++dbs}`);
    const a = appliance({ start: '10.77.0.100', end: '10.77.0.110' });
    const sa = await share(conninfo, a, 60_000);
    const ip = await lease(a, sa, 1, 0x301);
    // The server ends the answerer's session (as a restart or a network loss would).
    await sql(conninfo, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1`, [DHCP_LOCK_CLASS]);
    await new Promise((r) => setTimeout(r, 200));
    a.leases.onFreed = (change) => void sa.recordFreed(withReleasedExpiry(a.leases, change)); // as the DHCP service wires it
    expect(a.leases.release(mac(1), ip)).toBe(true);
    a.leases.decline(mac(2), '10.77.0.105', 300);
    await new Promise((r) => setTimeout(r, 200));
    expect(sa.status().freedQueued).toBe(2);
    expect(await sql(conninfo, 'SELECT mac, ip, state FROM leases')).toEqual([{ mac: mac(1), ip, state: 'bound' }]);
    await sa.close();

    // The appliance restarts on the same local store: its first poll delivers.
    const again = await share(conninfo, a, 60_000);
    expect(again.status().freedQueued).toBe(0);
    expect(again.status().totals.freedDelivered).toBe(2);
    expect(await sql(conninfo, 'SELECT mac, ip, state FROM leases ORDER BY ip')).toEqual([
      { mac: mac(1), ip, state: 'released' },
      { mac: 'declined:10.77.0.105', ip: '10.77.0.105', state: 'declined' },
    ]);
  });

  it('a late release names the lease it ends by its expiry: a renewal since (any appliance, any clock) keeps the address bound', async () => {
    const conninfo = pg.createDatabase(`alloc_${++dbs}`);
    const a = appliance({ start: '10.77.0.100', end: '10.77.0.110' });
    const sa = await share(conninfo, a, 60_000);
    const ip = await lease(a, sa, 1, 0x311);
    const released = withReleasedExpiry(a.leases, { kind: 'released', mac: mac(1), ip });
    expect(released).toEqual({ kind: 'released', mac: mac(1), ip, expiresAt: a.now() + 3_600_000 });
    // Renewed elsewhere before the release arrives; the clocks agree to the millisecond (a's fixed test clock).
    expect(await sa.commitBinds([{ mac: mac(1), ip, expiresAt: a.now() + 7_200_000 }])).toEqual([{ ok: true }]);
    await sa.recordFreed(released);
    expect(await sql(conninfo, 'SELECT state FROM leases WHERE mac = $1', [mac(1)])).toEqual([{ state: 'bound' }]);
    await sa.recordFreed({ kind: 'released', mac: mac(1), ip, expiresAt: a.now() + 7_200_000 });
    expect(await sql(conninfo, 'SELECT state FROM leases WHERE mac = $1', [mac(1)])).toEqual([{ state: 'released' }]);
    expect(sa.status().freedQueued).toBe(0);
  });
});

describe('every appliance shows the shared leases', () => {
  it('a standby\'s book mirrors PostgreSQL\'s table, and its status counts the takeovers and bound leases', async () => {
    const conninfo = pg.createDatabase(`alloc_${++dbs}`);
    const pool = { start: '10.77.0.100', end: '10.77.0.110' };
    const a = appliance(pool);
    const b = appliance(pool);
    b.leases.bind(mac(7), '10.77.0.109', 3600); // only b's
    const sa = await share(conninfo, a);
    const sb = await share(conninfo, b);
    await lease(a, sa, 1, 0x401);
    await lease(a, sa, 2, 0x402);
    const rows = (l: Leases) => l.all().map((x) => [x.mac, x.ip, x.state]).sort();
    await until(() => JSON.stringify(rows(b.leases)) === JSON.stringify(rows(a.leases)));
    expect(rows(b.leases)).toEqual([[mac(1), '10.77.0.100', 'bound'], [mac(2), '10.77.0.101', 'bound']]);
    expect(sa.status()).toMatchObject({ answering: 1, totals: { takeovers: 1 } });
    expect(sb.status()).toMatchObject({ answering: 0, sharedLeasesBound: 2, totals: { takeovers: 0 } });
  });
});
