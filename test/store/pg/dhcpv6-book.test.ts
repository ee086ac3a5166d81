// DHCPv6 on one shared segment, against a real PostgreSQL 15 (branch
// pg-dhcp6): it answers under DHCPv4's segment lock, PostgreSQL's
// dhcpv6_leases is the one book (a new answerer replaces its own with it
// before answering), and every write is committed there before its Reply.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeDhcpv6, Msg6, parseDhcpv6 } from '../../../src/dhcpv6/codec.js';
import { duidLl, iaAddrValue, iaNaValue, Opt6, type OptionList } from '../../../src/dhcpv6/options.js';
import { handleDhcpv6, type Outcome6 } from '../../../src/dhcpv6/policy.js';
import { answerShared6 } from '../../../src/dhcpv6/sharing.js';
import type { Settings } from '../../../src/settings/settings.js';
import { PgDhcpSegment } from '../../../src/store/pg/dhcp-segment.js';
import { PgDhcpv6Book } from '../../../src/store/pg/dhcpv6-book.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { makeV6Context, SERVER_MAC, type V6TestContext } from '../../dhcpv6/context.js';

let pg: PgRig;
let n = 0;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());
const open: Array<{ close(): Promise<unknown> | unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const POOL = ['2001:db8:7::1000', '2001:db8:7::1001', '2001:db8:7::1002', '2001:db8:7::1003'];
const mac = (i: number) => `02:00:00:00:06:${String(i).padStart(2, '0')}`;
const settingsFor = (conninfo: string) => ({ scaleOut: { postgres: conninfo, dhcpPollMs: 50 }, dhcp: { subnet: 'seg6' } }) as unknown as Settings;

/** One appliance's DHCPv6: its own SQLite book and policy, on a segment lock (DHCPv4's, or its own when none is given). */
async function appliance(conninfo: string, withV4Segment = true): Promise<{ ctx: V6TestContext; book: PgDhcpv6Book; segment?: PgDhcpSegment; ask: (m: Buffer) => Promise<Outcome6> }> {
  const ctx = makeV6Context({ rapidCommit: true });
  open.push({ close: () => ctx.store.close() });
  const segment = withV4Segment ? await PgDhcpSegment.start({ conninfo, segment: 'seg6', pollMs: 50, adopt: () => undefined }) : undefined;
  if (segment) open.push(segment);
  const book = await PgDhcpv6Book.start({ settings: settingsFor(conninfo), book: ctx.leases, segment, now: () => ctx.clock.t });
  open.push(book);
  return { ctx, book, segment, ask: (m) => answerShared6(ctx.leases, book, () => handleDhcpv6(ctx, m, 'fe80::1%rb0')) };
}

/** Two appliances on a fresh database; a answers and has bound the first two addresses to clients 1 and 2. */
async function twoWithTwoBound() {
  const conninfo = pg.createDatabase(`d6_${++n}`);
  const a = await appliance(conninfo);
  const b = await appliance(conninfo);
  expect(given(await a.ask(rapidSolicit(mac(1))))).toBe(POOL[0]);
  expect(given(await a.ask(rapidSolicit(mac(2))))).toBe(POOL[1]);
  return { conninfo, a, b };
}

const message = (type: number, client: string, options: OptionList, server = true) => encodeDhcpv6({
  type, transactionId: 0x060606,
  options: [[Opt6.CLIENTID, duidLl(client)], ...(server ? [[Opt6.SERVERID, duidLl(SERVER_MAC)] as [number, Buffer]] : []), ...options],
});
const ia = (address?: string): [number, Buffer] => [Opt6.IA_NA, iaNaValue({ iaid: 6, t1: 0, t2: 0 }, address ? [[Opt6.IAADDR, iaAddrValue({ address, preferred: 0, valid: 0 })]] : [])];
const rapidSolicit = (client: string) => message(Msg6.SOLICIT, client, [ia(), [Opt6.RAPID_COMMIT, Buffer.alloc(0)]], false);

/** The address a Reply gives, or why nothing was sent. */
function given(o: Outcome6): string {
  if (o.kind === 'drop') return `dropped: ${o.reason}`;
  const p = parseDhcpv6(o.bytes);
  if (!p.ok || p.message.kind !== 'message') throw new Error('reply does not parse');
  return p.message.options.iaNa[0]?.addresses[0]?.address ?? 'no address';
}

async function shared(conninfo: string, sql = 'SELECT client, ip, state FROM dhcpv6_leases ORDER BY ip', params: unknown[] = []): Promise<unknown[]> {
  const s = new PsqlSession(conninfo);
  try {
    if (sql.startsWith('SELECT')) return await s.rows(sql, params);
    await s.exec(sql, params);
    return [];
  } finally {
    await s.close();
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('DHCPv6 on a shared segment (PostgreSQL)', () => {
  it('only the holder of the segment lock answers, and its Reply\'s lease is in PostgreSQL when the Reply is returned', async () => {
    const conninfo = pg.createDatabase(`d6_${++n}`);
    const a = await appliance(conninfo);
    const b = await appliance(conninfo);
    expect(given(await a.ask(rapidSolicit(mac(1))))).toBe(POOL[0]);
    expect(await shared(conninfo)).toEqual([{ client: mac(1), ip: POOL[0], state: 'bound' }]);
    expect(given(await b.ask(rapidSolicit(mac(2))))).toBe('dropped: standby');
    expect(b.ctx.store.db.prepare('SELECT count(*) AS n FROM dhcpv6_leases').get()).toEqual({ n: 0 });
    expect(a.book.status()).toMatchObject({ answering: 1, totals: { takeovers: 1, commits: 1, refused: 0 } });
    expect(b.book.status()).toMatchObject({ answering: 0 });
  });

  it('after the answerer dies the standby answers from PostgreSQL\'s book, not its own', async () => {
    const { conninfo, a, b } = await twoWithTwoBound();
    // b's own book holds a row PostgreSQL never had (an earlier turn, say), on the third address.
    b.ctx.leases.bind('stale', 9, POOL[2]!, 3600, 'aa');
    await a.segment!.kill();
    await until(() => b.book.answering());
    // A new client gets the first address free in PostgreSQL's book: not a's two, and the stale row no longer holds the third.
    expect(given(await b.ask(rapidSolicit(mac(3))))).toBe(POOL[2]);
    // A client a bound keeps its address on b.
    expect(given(await b.ask(rapidSolicit(mac(1))))).toBe(POOL[0]);
    expect(await shared(conninfo)).toEqual([
      { client: mac(1), ip: POOL[0], state: 'bound' }, { client: mac(2), ip: POOL[1], state: 'bound' }, { client: mac(3), ip: POOL[2], state: 'bound' },
    ]);
    expect(b.ctx.leases.get('stale')).toBeUndefined();
  });

  it('an address bound in PostgreSQL to another client is not given: the Reply is withheld and the holder adopted', async () => {
    const conninfo = pg.createDatabase(`d6_${++n}`);
    const a = await appliance(conninfo);
    expect(given(await a.ask(rapidSolicit(mac(1))))).toBe(POOL[0]); // a has read the book for its turn
    await shared(conninfo, `INSERT INTO dhcpv6_leases (client, iaid, ip, state, expires_at, duid, updated_at) VALUES ('other', 1, $1, 'bound', $2, 'bb', 0)`, [POOL[1], Date.now() + 3_600_000]);
    expect(given(await a.ask(rapidSolicit(mac(2))))).toBe('dropped: shared-store-refused');
    expect(a.ctx.leases.get('other')?.ip).toBe(POOL[1]);
    expect(given(await a.ask(rapidSolicit(mac(2))))).toBe(POOL[2]); // the client's retransmission
    expect(await shared(conninfo)).toEqual([
      { client: mac(1), ip: POOL[0], state: 'bound' }, { client: 'other', ip: POOL[1], state: 'bound' }, { client: mac(2), ip: POOL[2], state: 'bound' },
    ]);
    expect(a.book.status()).toMatchObject({ totals: { refused: 1 } });
  });

  it('an address whose row in PostgreSQL lapsed is taken over in the binding\'s one statement', async () => {
    const conninfo = pg.createDatabase(`d6_${++n}`);
    const a = await appliance(conninfo);
    expect(given(await a.ask(rapidSolicit(mac(1))))).toBe(POOL[0]); // a has read the book for its turn
    await shared(conninfo, `INSERT INTO dhcpv6_leases (client, iaid, ip, state, expires_at, duid, updated_at) VALUES ('other', 1, $1, 'bound', 1, 'bb', 0)`, [POOL[1]]); // lapsed by the test's clock
    expect(given(await a.ask(rapidSolicit(mac(2))))).toBe(POOL[1]);
    expect(await shared(conninfo)).toEqual([{ client: mac(1), ip: POOL[0], state: 'bound' }, { client: mac(2), ip: POOL[1], state: 'bound' }]);
    expect(a.book.status()).toMatchObject({ totals: { commits: 2, refused: 0 } });
  });

  it('a RELEASE and a DECLINE are in PostgreSQL before their Reply; a standby\'s are not answered', async () => {
    const { conninfo, a, b } = await twoWithTwoBound();
    expect((await a.ask(message(Msg6.RELEASE, mac(1), [ia(POOL[0])]))).kind).toBe('reply');
    expect((await a.ask(message(Msg6.DECLINE, mac(2), [ia(POOL[1])]))).kind).toBe('reply');
    expect(await shared(conninfo)).toEqual([
      { client: mac(1), ip: POOL[0], state: 'released' }, { client: `declined:${POOL[1]}`, ip: POOL[1], state: 'declined' },
    ]);
    expect(given(await b.ask(message(Msg6.RELEASE, mac(1), [ia(POOL[0])])))).toBe('dropped: standby');
  });

  it('a write PostgreSQL fails to take is not answered, and the book is re-read: the retransmitted DECLINE is recorded', async () => {
    const conninfo = pg.createDatabase(`d6_${++n}`);
    const a = await appliance(conninfo);
    expect(given(await a.ask(rapidSolicit(mac(1))))).toBe(POOL[0]);
    // The next quarantine row fails to commit (a stand-in for any error that is not the unique index); a sequence counts outside the rollback.
    await shared(conninfo, 'CREATE SEQUENCE refusals');
    await shared(conninfo, `CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF nextval('refusals') = 1 THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$`);
    await shared(conninfo, `CREATE TRIGGER refuse_decline BEFORE INSERT ON dhcpv6_leases FOR EACH ROW WHEN (NEW.state = 'declined') EXECUTE FUNCTION refuse_once()`);
    const decline = message(Msg6.DECLINE, mac(1), [ia(POOL[0])]);
    expect(given(await a.ask(decline))).toBe('dropped: shared-store-refused');
    expect(await shared(conninfo)).toEqual([{ client: mac(1), ip: POOL[0], state: 'bound' }]);
    expect(await a.ask(decline)).toMatchObject({ kind: 'reply', detail: expect.stringMatching(/declined$/) });
    expect(await shared(conninfo)).toEqual([{ client: `declined:${POOL[0]}`, ip: POOL[0], state: 'declined' }]);
    expect(a.book.status()).toMatchObject({ totals: { takeovers: 1, rereads: 1, refused: 1 } });
  });

  it('with DHCPv4 off, DHCPv6 takes the same segment lock on its own', async () => {
    const conninfo = pg.createDatabase(`d6_${++n}`);
    const v4 = await PgDhcpSegment.start({ conninfo, segment: 'seg6', pollMs: 50, adopt: () => undefined });
    open.push(v4);
    const alone = await appliance(conninfo, false);
    expect(v4.answering()).toBe(true);
    expect(alone.book.answering()).toBe(false);
    expect(given(await alone.ask(rapidSolicit(mac(1))))).toBe('dropped: standby');
    await v4.kill();
    await until(() => alone.book.answering());
    expect(given(await alone.ask(rapidSolicit(mac(1))))).toBe(POOL[0]);
  });
});
