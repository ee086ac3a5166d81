// DHCP on one shared segment, against a real PostgreSQL 15: one instance
// answers, the other takes over when the answerer's session dies (and first
// adopts the shared leases), a binding commits only on the answering session,
// and one address is never bound to two MACs, even by two instances that
// both believe they answer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Lease } from '../../../src/dhcp/leases.js';
import { PgDhcpSegment } from '../../../src/store/pg/dhcp-segment.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';

let pg: PgRig;
let n = 0;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const HOUR = 3_600_000;

async function segment(conninfo: string, name = 'seg', adopted: Lease[][] = [], idleTimeoutMs?: number, now?: () => number): Promise<PgDhcpSegment> {
  const s = await PgDhcpSegment.start({ conninfo, segment: name, pollMs: 50, idleTimeoutMs, now, adopt: (rows) => adopted.push(rows) });
  open.push(s);
  return s;
}

async function until(cond: () => boolean, ms = 3000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

async function sharedLeases(conninfo: string): Promise<Array<{ mac: string; ip: string; state: string }>> {
  const s = new PsqlSession(conninfo);
  try {
    return await s.rows('SELECT mac, ip, state FROM leases ORDER BY ip');
  } finally {
    await s.close();
  }
}

describe('PostgreSQL DHCP segment', () => {
  it('one of two answers; the other takes over after the answerer dies, with the shared leases adopted first', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const adoptedA: Lease[][] = [];
    const adoptedB: Lease[][] = [];
    const a = await segment(conninfo, 'seg', adoptedA);
    const b = await segment(conninfo, 'seg', adoptedB);
    expect(a.answering()).toBe(true);
    expect(b.answering()).toBe(false);
    expect(await a.commitBinds([{ mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', expiresAt: Date.now() + HOUR }])).toEqual([{ ok: true }]);
    expect((await b.commitBinds([{ mac: 'aa:00:00:00:00:02', ip: '10.0.0.21', expiresAt: Date.now() + HOUR }]))[0]!.ok).toBe(false);

    await a.kill();
    expect(a.answering()).toBe(false);
    const took = await until(() => b.answering());
    expect(took).toBeLessThan(1000);
    expect(adoptedB.at(-1)!.map((l) => [l.mac, l.ip, l.state])).toEqual([['aa:00:00:00:00:01', '10.0.0.20', 'bound']]);
    // a comes back, but b answers now.
    const back = await segment(conninfo);
    await back.poll();
    expect(back.answering()).toBe(false);
    expect((await back.commitBinds([{ mac: 'aa:00:00:00:00:03', ip: '10.0.0.22', expiresAt: Date.now() + HOUR }]))[0]!.ok).toBe(false);
    expect(await sharedLeases(conninfo)).toEqual([{ mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', state: 'bound' }]);
  });

  it('a holder that hangs with its connection open loses the segment once its session has been idle too long', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const a = await segment(conninfo, 'seg', [], 400);
    const b = await segment(conninfo, 'seg', [], 400);
    expect(a.answering()).toBe(true);
    await new Promise((r) => setTimeout(r, 600)); // polling keeps a's session busy enough
    expect(a.answering()).toBe(true);
    expect(b.answering()).toBe(false);
    a.hang();
    const took = await until(() => b.answering(), 5000);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(a.answering()).toBe(false);
  });

  it('an address held by another MAC is refused with its holder; a lapsed one is taken over; a renewal moves nothing', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const a = await segment(conninfo);
    const now = Date.now();
    expect(await a.commitBinds([
      { mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', expiresAt: now + HOUR },
      { mac: 'aa:00:00:00:00:02', ip: '10.0.0.21', expiresAt: now - 1 },
    ])).toEqual([{ ok: true }, { ok: true }]);
    const [taken, lapsed, renewed] = await a.commitBinds([
      { mac: 'aa:00:00:00:00:09', ip: '10.0.0.20', expiresAt: now + HOUR },
      { mac: 'aa:00:00:00:00:09', ip: '10.0.0.21', expiresAt: now + HOUR },
      { mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', expiresAt: now + 2 * HOUR, hostname: 'n1' },
    ]);
    expect(taken).toMatchObject({ ok: false, holder: { mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', state: 'bound' } });
    expect(lapsed).toEqual({ ok: true });
    expect(renewed).toEqual({ ok: true });
    expect(await sharedLeases(conninfo)).toEqual([
      { mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', state: 'bound' },
      { mac: 'aa:00:00:00:00:09', ip: '10.0.0.21', state: 'bound' },
    ]);
  });

  it('a RELEASE frees the address for another MAC; a DECLINE quarantines it; a release from before the last bind changes nothing', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const a = await segment(conninfo);
    // b's clock says a minute ago: its release predates a's bind (a late delivery).
    const b = await segment(conninfo, 'seg', [], undefined, () => Date.now() - 60_000);
    const now = Date.now();
    await a.commitBinds([{ mac: 'aa:00:00:00:00:01', ip: '10.0.0.20', expiresAt: now + HOUR }, { mac: 'aa:00:00:00:00:02', ip: '10.0.0.21', expiresAt: now + HOUR }]);
    await b.recordFreed({ kind: 'released', mac: 'aa:00:00:00:00:01', ip: '10.0.0.20' });
    expect((await a.commitBinds([{ mac: 'aa:00:00:00:00:03', ip: '10.0.0.20', expiresAt: now + HOUR }]))[0]!.ok).toBe(false);
    await a.recordFreed({ kind: 'released', mac: 'aa:00:00:00:00:01', ip: '10.0.0.20' });
    expect(await a.commitBinds([{ mac: 'aa:00:00:00:00:03', ip: '10.0.0.20', expiresAt: now + HOUR }])).toEqual([{ ok: true }]);
    await a.recordFreed({ kind: 'declined', ip: '10.0.0.21', until: now + HOUR });
    expect((await a.commitBinds([{ mac: 'aa:00:00:00:00:04', ip: '10.0.0.21', expiresAt: now + HOUR }]))[0]).toMatchObject({ ok: false, holder: { mac: 'declined:10.0.0.21', state: 'declined' } });
    expect(await sharedLeases(conninfo)).toEqual([
      { mac: 'aa:00:00:00:00:03', ip: '10.0.0.20', state: 'bound' },
      { mac: 'declined:10.0.0.21', ip: '10.0.0.21', state: 'declined' },
    ]);
  });

  it('a bind the table refuses for its own values costs only its own ACK; an error that is not one bind\'s refuses the group', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const a = await segment(conninfo);
    const now = Date.now();
    const s = new PsqlSession(conninfo);
    try {
      // A stand-in for a value the table cannot take (a trigger's RAISE, class P0), then for the database's own trouble (53100, disk full).
      await s.exec(`CREATE FUNCTION refuse_bind() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.mac = 'aa:00:00:00:00:02' THEN RAISE EXCEPTION 'refused for its values'; END IF;
        IF NEW.mac = 'aa:00:00:00:00:05' THEN RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full'; END IF;
        RETURN NEW; END $$`);
      await s.exec('CREATE TRIGGER refuse_bind BEFORE INSERT OR UPDATE ON leases FOR EACH ROW EXECUTE FUNCTION refuse_bind()');
    } finally {
      await s.close();
    }
    const bind = (i: number) => ({ mac: `aa:00:00:00:00:0${i}`, ip: `10.0.0.2${i}`, expiresAt: now + HOUR });
    expect(await a.commitBinds([bind(1), bind(2), bind(3)])).toEqual([{ ok: true }, { ok: false, error: 'refused for its values' }, { ok: true }]);
    expect(await a.commitBinds([bind(4), bind(5), bind(6)])).toEqual([4, 5, 6].map(() => ({ ok: false, error: 'disk full' })));
    expect(await sharedLeases(conninfo)).toEqual([
      { mac: 'aa:00:00:00:00:01', ip: '10.0.0.21', state: 'bound' }, { mac: 'aa:00:00:00:00:03', ip: '10.0.0.23', state: 'bound' },
    ]);
  });

  it('binds and reads asked for while the session is busy share one transaction and one read; a held address refuses only its own bind', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    // No poll in this test: a poll's own turn on the session would close the group between two calls.
    const a = await PgDhcpSegment.start({ conninfo, segment: 'seg', pollMs: 60_000, adopt: () => undefined });
    open.push(a);
    const now = Date.now();
    const bind = (i: number, ip: string) => ({ mac: `aa:00:00:00:00:0${i}`, ip, expiresAt: now + HOUR });
    expect(await a.commitBinds([bind(1, '10.0.0.20')])).toEqual([{ ok: true }]);
    const holder = new PsqlSession(conninfo);
    open.push(holder);
    /** Another session holds the lease table, so the segment's first bind waits on it while `meanwhile` asks for more. */
    const whileBusy = async <T>(firstBind: ReturnType<typeof bind>, meanwhile: () => Promise<T>): Promise<T> => {
      await holder.exec('BEGIN');
      await holder.exec('LOCK TABLE leases IN ACCESS EXCLUSIVE MODE');
      const first = a.commitBinds([firstBind]);
      await new Promise((r) => setTimeout(r, 100));
      const asked = meanwhile();
      await holder.exec('COMMIT');
      expect(await first).toEqual([{ ok: true }]);
      return asked;
    };
    const before = a.status().totals;
    const [, three, fiveSix] = await whileBusy(bind(2, '10.0.0.21'), () => Promise.all([
      Promise.all([a.refresh(), a.refresh(), a.refresh()]), a.commitBinds([bind(3, '10.0.0.22')]), a.commitBinds([bind(5, '10.0.0.23'), bind(6, '10.0.0.24')]),
    ]));
    expect(three).toEqual([{ ok: true }]);
    expect(fiveSix).toEqual([{ ok: true }, { ok: true }]);
    const after = a.status().totals;
    expect(after.leaseReads - before.leaseReads).toBe(1);
    expect(after.bindCommits - before.bindCommits).toBe(2);
    const s = new PsqlSession(conninfo);
    open.push(s);
    const tx = new Map((await s.rows<{ mac: string; tx: string }>('SELECT mac, xmin::text AS tx FROM leases')).map((r) => [r.mac.slice(-2), r.tx]));
    expect(new Set([tx.get('03'), tx.get('05'), tx.get('06')]).size).toBe(1);
    expect(tx.get('02')).not.toBe(tx.get('03'));

    // A group with an address another MAC holds: that bind alone is refused, with its holder.
    const [seven, four, eight] = await whileBusy(bind(9, '10.0.0.29'), () => Promise.all([
      a.commitBinds([bind(7, '10.0.0.27')]), a.commitBinds([bind(4, '10.0.0.20')]), a.commitBinds([bind(8, '10.0.0.28')]),
    ]));
    expect(seven).toEqual([{ ok: true }]);
    expect(four).toMatchObject([{ ok: false, holder: { mac: 'aa:00:00:00:00:01', ip: '10.0.0.20' } }]);
    expect(eight).toEqual([{ ok: true }]);
    expect(a.status().totals.bindCommits - after.bindCommits).toBe(2);
    expect((await s.rows<{ mac: string }>('SELECT mac FROM leases ORDER BY mac')).map((r) => r.mac.slice(-2))).toEqual(['01', '02', '03', '05', '06', '07', '08', '09']);
  });

  it('two instances that both answer (different segment names on one database) never bind one address to two MACs', async () => {
    const conninfo = pg.createDatabase(`seg_${++n}`);
    const a = await segment(conninfo, 'left');
    const b = await segment(conninfo, 'right');
    expect(a.answering() && b.answering()).toBe(true);
    const ips = Array.from({ length: 40 }, (_, i) => `10.0.1.${i + 1}`);
    const mk = (side: string) => ips.map((ip, i) => ({ mac: `${side}:00:00:00:00:${i.toString(16).padStart(2, '0')}`, ip, expiresAt: Date.now() + HOUR }));
    const [ra, rb] = await Promise.all([a.commitBinds(mk('aa')), b.commitBinds(mk('bb'))]);
    for (let i = 0; i < ips.length; i++) expect(Number(ra[i]!.ok) + Number(rb[i]!.ok)).toBe(1);
    const rows = await sharedLeases(conninfo);
    expect(rows).toHaveLength(ips.length);
    expect(new Set(rows.map((r) => r.ip)).size).toBe(ips.length);
  });
});
