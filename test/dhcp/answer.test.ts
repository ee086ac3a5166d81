// The commit rule around the handlers (src/dhcp/answer.ts), on a real file
// store: replies go out only after their writes commit, and when the store
// refuses writes (a full disk failing the commit, a read-only store failing
// the statement) what needs no stored write is still answered.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { answerBatch, newMetrics, processDatagram, StoreRefusals, type DhcpMetrics } from '../../src/dhcp/answer.js';
import { parseDhcp, type DhcpPacket } from '../../src/dhcp/codec.js';
import type { Via } from '../../src/dhcp/handler/common.js';
import {
  ipxeBiosDiscover, ipxeBiosRequest, MAC_BIOS, MAC_EFI, MAC_UNKNOWN, message, ovmfDiscover, ovmfProxyRequest, plainDiscover, plainRequest,
} from './fixtures.js';
import { makeContext, SERVER, settingsWith, type TestContext } from './context.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';

const CLIENT = { address: '0.0.0.0', port: 68 };
const REFUSED = 'dhcp: store write failed; only replies whose writes were stored, or that need none, were sent';
const BIOS = '52:54:00:12:34:01';
let dir: string;
let ctx: TestContext;
let metrics: DhcpMetrics;
let lines: Array<Record<string, unknown>>;

afterEach(() => {
  ctx?.store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A context over a store file, logging at debug into `lines`; `onLine` sees each line as it is written. */
function setup(dhcp: Parameters<typeof settingsWith>[0] = {}, onLine?: (line: Record<string, unknown>) => void) {
  dir = mkdtempSync(join(tmpdir(), 'rb-answer-'));
  ctx = makeContext(settingsWith({ pool: { start: '10.77.0.100', end: '10.77.0.110' }, ...dhcp }), { file: join(dir, 'rackboot.db') });
  lines = [];
  ctx.log = pino({ level: 'debug' }, { write: (s: string) => { const l = JSON.parse(s) as Record<string, unknown>; lines.push(l); onLine?.(l); } });
  metrics = newMetrics();
}

function answer(msgs: Array<Buffer | [Buffer, Via]>, refusals?: StoreRefusals): Array<DhcpPacket | undefined> {
  const batch = msgs.map((m) => (Array.isArray(m) ? { msg: m[0], from: CLIENT, via: m[1] } : { msg: m, from: CLIENT, via: 'dhcp' as const }));
  return answerBatch(ctx, metrics, batch, refusals).map((out) => {
    if (!out) return undefined;
    const p = parseDhcp(out.bytes);
    if (!p.ok) throw new Error(`our reply does not parse: ${p.error.detail}`);
    return p.packet;
  });
}

/**
 * A full disk as WAL mode meets it: statements run, the commit fails with
 * SQLITE_FULL and nothing is kept. Fails the next `failures` top-level
 * transactions (set it to 0 to free space); counts the ones that commit.
 * `rollback: false` leaves the failed transaction open, as a failed rollback would.
 */
function diskFull(db: Database.Database, failures = Infinity, rollback = true): { commits: number; failures: number } {
  const real = db.transaction.bind(db);
  const disk = { commits: 0, failures };
  db.transaction = ((fn: (...a: unknown[]) => unknown) => {
    const wrapped = real(fn);
    return (...args: unknown[]) => {
      if (db.inTransaction) return wrapped(...args);
      if (disk.failures <= 0) return (disk.commits++, wrapped(...args));
      disk.failures--;
      db.exec('BEGIN');
      try { fn(...args); } finally { if (rollback) db.exec('ROLLBACK'); }
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    };
  }) as typeof db.transaction;
  return disk;
}

/** Everything DHCP could write, to show a refused batch left no trace. */
const snapshot = () => ({
  events: ctx.store.db.prepare('SELECT count(*) AS n FROM events').get(),
  discovered: ctx.store.db.prepare('SELECT * FROM discovered').all(),
  leases: ctx.store.db.prepare('SELECT * FROM leases ORDER BY mac').all(),
  nodes: ctx.store.db.prepare('SELECT name, last_seen FROM nodes ORDER BY name').all(),
});

describe('the commit rule', () => {
  it('answers a batch after one commit, and logs each ACK only once another connection can see its lease', () => {
    const acked: Array<{ ip: unknown; stored: string | undefined }> = [];
    let reader: Database.Database | undefined;
    setup({}, (l) => {
      if (!String(l.msg).startsWith('dhcp: ack')) return;
      reader ??= new Database(join(dir, 'rackboot.db'), { readonly: true });
      const row = reader.prepare('SELECT ip FROM leases WHERE mac=? AND state=\'bound\'').get(l.mac) as { ip: string } | undefined;
      acked.push({ ip: String(l.msg).split(' ')[2], stored: row?.ip });
    });
    const disk = diskFull(ctx.store.db, 0);
    const [offer, ack, other] = answer([ipxeBiosDiscover(), ipxeBiosRequest(SERVER, '10.77.0.11'), plainDiscover(MAC_UNKNOWN)]);
    reader?.close();
    expect(disk.commits).toBe(1);
    expect([offer?.options.messageType, ack?.options.messageType, other?.options.messageType]).toEqual([2, 5, 2]);
    expect(acked).toEqual([{ ip: '10.77.0.11', stored: '10.77.0.11' }]);
    expect(metrics).toMatchObject({ received: 3, offers: 2, acks: 1, drops: {} });
  });

  it('when only the batch cannot be stored, answers each packet from its own transaction', () => {
    setup();
    const disk = diskFull(ctx.store.db, 1);
    const [offer, ack] = answer([ipxeBiosDiscover(), ipxeBiosRequest(SERVER, '10.77.0.11')]);
    expect([offer?.yiaddr, ack?.options.messageType, ack?.options.leaseTime]).toEqual(['10.77.0.11', 5, 3600]);
    expect(disk.commits).toBe(2);
    expect(ctx.leases.get(BIOS)).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    expect(metrics.drops).toEqual({});
    expect(lines.filter((l) => l.level === 50).map((l) => [l.msg, l.answered, l.storeFailed])).toEqual([[REFUSED, 2, 0]]);
  });

  it('once a packet fails alone too, tries no more transactions for the rest of the batch', () => {
    setup();
    const disk = diskFull(ctx.store.db, 2);
    const [offer, ack, other] = answer([ipxeBiosDiscover(), ipxeBiosRequest(SERVER, '10.77.0.11'), plainDiscover(MAC_UNKNOWN)]);
    expect([offer?.options.messageType, ack, other?.options.messageType]).toEqual([2, undefined, 2]);
    expect([disk.failures, disk.commits]).toEqual([0, 0]);
    expect(metrics.drops).toEqual({ 'store-failed': 1 });
  });

  it('answers nothing from a failed transaction left open, and abandons it before the next commit', () => {
    setup();
    diskFull(ctx.store.db, 1, false);
    expect(answer([ipxeBiosRequest(SERVER, '10.77.0.11')])).toEqual([undefined]);
    expect(metrics.drops).toEqual({ 'store-failed': 1 });
    // The next batch abandons it before its own transaction, so that one is a real commit.
    expect(answer([ipxeBiosRequest(SERVER, '10.77.0.11')])[0]?.options.messageType).toBe(5);
    expect(ctx.store.db.inTransaction).toBe(false);
    const reader = new Database(join(dir, 'rackboot.db'), { readonly: true });
    expect(reader.prepare('SELECT ip FROM leases WHERE mac=?').get(BIOS)).toEqual({ ip: '10.77.0.11' });
    reader.close();
  });
});

/** Makes the store refuse writes; returns how to make it take them again. */
const REFUSALS = [
  { store: 'on a full disk', code: 'SQLITE_FULL', refuse: () => { const disk = diskFull(ctx.store.db); return () => { disk.failures = 0; }; } },
  { store: 'read-only', code: 'SQLITE_READONLY', refuse: () => { ctx.store.db.pragma('query_only = ON'); return () => ctx.store.db.pragma('query_only = OFF'); } },
];

describe.each(REFUSALS)('a store that refuses writes ($store)', ({ code, refuse }) => {
  it('still offers, NAKs, INFORMs and renews within the stored lease; new bindings and releases are dropped as store-failed', () => {
    setup();
    expect(processDatagram(ctx, metrics, ipxeBiosRequest(SERVER, '10.77.0.11'), CLIENT, 'dhcp')).toBeDefined();
    ctx.clock.t += 1000_000;
    const before = snapshot();
    metrics = newMetrics();
    lines.length = 0;
    const allowWrites = refuse();

    const [cp1, unknown, garbage] = answer([ipxeBiosDiscover(), plainDiscover(MAC_UNKNOWN), Buffer.from('xx')]);
    expect([cp1?.options.messageType, cp1?.yiaddr, unknown?.options.messageType, garbage]).toEqual([2, '10.77.0.11', 2, undefined]);
    const pooled = unknown!.yiaddr;
    expect(pooled).toMatch(/^10\.77\.0\.1(0\d|10)$/);

    const [bindPooled, bindReserved, renew, inform, nak, release] = answer([
      plainRequest(MAC_UNKNOWN, { server: SERVER, requested: pooled }),
      plainRequest(MAC_EFI, { server: SERVER, requested: '10.77.0.21' }),
      plainRequest(MAC_BIOS, { ciaddr: '10.77.0.11' }),
      message(8, MAC_UNKNOWN, { ciaddr: '10.77.0.200' }),
      plainRequest(MAC_BIOS, { requested: '192.168.1.5' }),
      message(7, MAC_BIOS, { server: SERVER, ciaddr: '10.77.0.11' }),
    ]);
    expect(bindPooled).toBeUndefined();
    expect(bindReserved).toBeUndefined();
    expect(release).toBeUndefined();
    // 1000 s of the 3600 s stored lease have passed: the ACK grants only the rest.
    expect([renew?.options.messageType, renew?.yiaddr, renew?.options.leaseTime, renew?.raw.get(58)?.readUInt32BE(0), renew?.raw.get(59)?.readUInt32BE(0)])
      .toEqual([5, '10.77.0.11', 2600, 1300, 2275]);
    expect([inform?.options.messageType, inform?.options.leaseTime, nak?.options.messageType]).toEqual([5, undefined, 6]);

    expect(metrics).toMatchObject({ received: 9, offers: 2, acks: 1, informs: 1, naks: 1, releases: 0, drops: { 'store-failed': 3 }, parseErrors: { 'too-short': 1 } });
    expect(snapshot()).toEqual(before);

    // Logged after the decision: exactly what was sent, then one error per refused batch.
    const acks = lines.filter((l) => String(l.msg).startsWith('dhcp: ack'));
    expect(acks.map((l) => l.mac)).toEqual([BIOS]);
    expect(String(acks[0]!.msg)).toContain('the store refuses writes');
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.map((l) => [l.msg, l.packets, l.answered, l.storeFailed])).toEqual([[REFUSED, 3, 2, 0], [REFUSED, 6, 3, 3]]);
    expect(JSON.stringify(errors[1]!.err)).toContain(code);
    expect(lines.indexOf(errors[1]!)).toBeGreaterThan(lines.indexOf(acks[0]!));

    // Writable again: the same REQUEST binds.
    allowWrites();
    expect(answer([plainRequest(MAC_UNKNOWN, { server: SERVER, requested: pooled })])[0]?.options.messageType).toBe(5);
    expect(ctx.leases.get('52:54:00:aa:bb:cc')).toMatchObject({ ip: pooled, state: 'bound' });
  });
});

describe('ProxyDHCP with a read-only store', () => {
  it('still answers the DISCOVER and the boot-server REQUEST, recording nothing', () => {
    setup({ mode: 'proxy', subnet: undefined, pool: undefined });
    const before = snapshot();
    ctx.store.db.pragma('query_only = ON');
    const [offer, ack] = answer([[ovmfDiscover(), 'dhcp'], [ovmfProxyRequest('10.77.0.50', SERVER), 'proxy']]);
    expect([offer?.options.messageType, offer?.file, ack?.options.messageType, ack?.file]).toEqual([2, 'ipxe.efi', 5, 'ipxe.efi']);
    expect(metrics).toMatchObject({ proxyOffers: 1, proxyAcks: 1, drops: {} });
    expect(snapshot()).toEqual(before);
  });
});

describe('reporting refusals', () => {
  it('logs the first refused batch at once, then one line per 10 s with the counts since the last', () => {
    setup();
    ctx.store.db.pragma('query_only = ON');
    const refusals = new StoreRefusals(ctx.log, ctx.now);
    const errors = () => lines.filter((l) => l.level === 50).map((l) => [l.batches, l.packets, l.answered, l.storeFailed]);
    answer([plainDiscover(MAC_UNKNOWN)], refusals);
    expect(errors()).toEqual([[1, 1, 1, 0]]);
    for (let i = 0; i < 5; i++) answer([plainDiscover(MAC_UNKNOWN), plainRequest(MAC_EFI, { server: SERVER, requested: '10.77.0.21' })], refusals);
    ctx.clock.t += 9_999;
    answer([plainDiscover(MAC_UNKNOWN)], refusals);
    expect(errors()).toHaveLength(1);
    ctx.clock.t += 1;
    answer([plainDiscover(MAC_UNKNOWN)], refusals);
    expect(errors()).toEqual([[1, 1, 1, 0], [7, 12, 7, 5]]);
    expect(metrics.drops['store-failed']).toBe(5);
  });
});

describe('which commits wait for the disk', () => {
  /** The connection's synchronous level (1 NORMAL, 2 FULL) as each top-level transaction runs. */
  function levels(db: Database.Database): number[] {
    const seen: number[] = [];
    const real = db.transaction.bind(db);
    db.transaction = ((fn: (...a: unknown[]) => unknown) => {
      const wrapped = real(fn);
      return (...args: unknown[]) => {
        if (!db.inTransaction) seen.push(db.pragma('synchronous', { simple: true }) as number);
        return wrapped(...args);
      };
    }) as typeof db.transaction;
    return seen;
  }

  it('a batch of DISCOVERs commits its sightings without an fsync; a batch that binds waits for it; FULL again after each', () => {
    setup();
    const seen = levels(ctx.store.db);
    const [offer, other] = answer([ipxeBiosDiscover(), plainDiscover(MAC_UNKNOWN)]);
    expect([offer?.options.messageType, other?.options.messageType]).toEqual([2, 2]);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
    // The unknown machine's sighting is committed (another connection sees it).
    const reader = new Database(join(dir, 'rackboot.db'), { readonly: true });
    const tables = (reader.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as Array<{ name: string }>).map((t) => t.name);
    const discovered = tables.find((t) => t.includes('discovered'));
    expect(discovered).toBeDefined();
    expect((reader.prepare(`SELECT count(*) AS n FROM ${discovered}`).get() as { n: number }).n).toBe(1);
    reader.close();
    const [ack] = answer([ipxeBiosRequest(SERVER, '10.77.0.11')]);
    const [offer2, ack2] = answer([plainDiscover(MAC_UNKNOWN, 0x1234), ipxeBiosRequest(SERVER, '10.77.0.11', 0x1a2b3c4e)]);
    expect([ack?.options.messageType, offer2?.options.messageType, ack2?.options.messageType]).toEqual([5, 2, 5]);
    expect(seen).toEqual([1, 2, 2]);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('in proxy mode the boot-server REQUEST commits without an fsync too (a proxy binds nothing); FULL again after', () => {
    setup({ mode: 'proxy', subnet: undefined, pool: undefined });
    const seen = levels(ctx.store.db);
    const [ack] = answer([[ovmfProxyRequest('10.77.0.50', SERVER), 'proxy']]);
    expect(ack?.options.messageType).toBe(5);
    expect(seen).toEqual([1]);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('with sightings written after the turn (the daemon\'s way), a batch of DISCOVERs writes nothing and leaves the level at FULL; the sightings follow without an fsync', () => {
    setup();
    ctx.lifecycle = new Lifecycle(ctx.store, { sightingsLater: true });
    const seen = levels(ctx.store.db);
    const changes = () => ctx.store.db.prepare('SELECT total_changes() AS n').pluck().get() as number;
    const before = changes();
    const [offer, other] = answer([ipxeBiosDiscover(), plainDiscover(MAC_UNKNOWN)]);
    expect([offer?.options.messageType, other?.options.messageType]).toEqual([2, 2]);
    expect(changes()).toBe(before);
    ctx.lifecycle.writeSightings();
    expect(changes()).toBeGreaterThan(before);
    expect((ctx.store.db.prepare('SELECT count(*) FROM discovered').pluck().get())).toBe(1);
    // The DISCOVER batch at FULL (no level set for it), the sightings at NORMAL.
    expect(seen).toEqual([2, 1]);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('a transaction a failed rollback left open at NORMAL: the next batch, DISCOVERs only, abandons it and restores FULL', () => {
    setup();
    ctx.lifecycle = new Lifecycle(ctx.store, { sightingsLater: true });
    ctx.store.db.pragma('synchronous = NORMAL');
    ctx.store.db.exec('BEGIN');
    const [offer] = answer([ipxeBiosDiscover()]);
    expect(offer?.options.messageType).toBe(2);
    expect(ctx.store.db.inTransaction).toBe(false);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('after a refused DISCOVER batch, the per-packet retries and later writers commit with FULL', () => {
    setup();
    const disk = diskFull(ctx.store.db, 1);
    const seen = levels(ctx.store.db);
    const [offer] = answer([ipxeBiosDiscover(), plainDiscover(MAC_UNKNOWN)]);
    expect(offer?.options.messageType).toBe(2);
    expect(disk.commits).toBe(2);
    // The failed batch ran at NORMAL; both retries alone at FULL.
    expect(seen).toEqual([1, 2, 2]);
    expect(ctx.store.db.pragma('synchronous', { simple: true })).toBe(2);
  });
});
