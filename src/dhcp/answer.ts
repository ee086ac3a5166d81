// From received datagrams to replies, under the rule DHCP must never break:
// no client is ACKed an address the store has not durably kept.
//
// Group commit: datagrams that arrive together are handled in one
// transaction, so one fsync covers them all, and their replies are released
// (counted, logged, handed to the socket) only after it commits.
//
// When that transaction fails (disk full, read-only store, I/O error), each
// datagram is handled again in a transaction of its own, so one that can
// still be stored is still answered in full. Once one fails alone too, it
// and the rest of the batch are handled read-only (HandlerContext.readOnly):
// replies that need no stored write still go out (OFFER, NAK, INFORM, the
// ProxyDHCP replies, a renewal the stored lease already covers), and the
// rest are dropped and counted as 'store-failed'. Handlers run again on each
// retry; what they change in memory (offer holds, the pool cursor) is safe
// to repeat.
//
// Only a binding needs the fsync. A batch of DISCOVERs writes nothing the
// reply rests on (the OFFER promises no address; the writes are the
// sighting: last-seen time, a discovered machine), so it commits with
// synchronous=NORMAL: in WAL mode that is still atomic and survives kill -9
// (the commit is in the OS's page cache), and the next FULL commit's fsync
// of the WAL makes it durable too. Power lost in between can lose only
// sightings. The fsync per DISCOVER batch was half of a full-mode exchange's
// disk waits, and the event loop is held while it runs. In proxy mode
// nothing is bound at all (the site's DHCP server hands out the address),
// so no batch there waits for the disk: its writes are sightings and events.
//
// The service (server.ts) takes the other half off the loop too: every batch
// commits with NORMAL, and replies that rest on the commit wait for a
// WalFlusher's fdatasync in the thread pool (src/store/wal-flush.ts), so the
// loop answers other clients while the disk works. No reply that needs the
// commit leaves before the sync that covers it has returned.
import type Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { LogTally } from '../log-tally.js';
import { BOOTREQUEST, encodeDhcp, MESSAGE_NAMES, MessageType, parseDhcp, type DhcpPacket } from './codec.js';
import { drop, type HandlerContext, type Outcome, type Via } from './handler/common.js';
import { handleFull } from './handler/full.js';
import { handleProxy } from './handler/proxy.js';
import type { CommitDurability } from '../store/wal-flush.js';
import { isStoreError } from '../store/errors.js';
import { prepared, transacted } from '../store/prepared.js';
import type { DhcpMode } from '../settings/settings.js';

export interface DhcpMetrics {
  received: number;
  offers: number;
  acks: number;
  naks: number;
  informs: number;
  proxyOffers: number;
  proxyAcks: number;
  releases: number;
  declines: number;
  drops: Record<string, number>;
  parseErrors: Record<string, number>;
  sendErrors: number;
  /** OFFERs and ACKs sent unicast to chaddr (RFC 2131 §4.1), and those broadcast because the neighbour entry could not be written. */
  unicastReplies: number;
  unicastFallbacks: number;
}

export function newMetrics(): DhcpMetrics {
  return { received: 0, offers: 0, acks: 0, naks: 0, informs: 0, proxyOffers: 0, proxyAcks: 0, releases: 0, declines: 0, drops: {}, parseErrors: {}, sendErrors: 0, unicastReplies: 0, unicastFallbacks: 0 };
}

type Peer = { address: string; port: number };
export interface Datagram { msg: Buffer; from: Peer; via: Via }
export interface Reply { bytes: Buffer; to: Peer; outcome: Extract<Outcome, { kind: 'reply' }> }

/** A datagram that parsed, with the fields every log line about it carries. */
interface Request { req: DhcpPacket; from: Peer; via: Via; base: Record<string, unknown> }

const bump = (rec: Record<string, number>, key: string) => { rec[key] = (rec[key] ?? 0) + 1; };
const COUNTER = { offer: 'offers', ack: 'acks', nak: 'naks', inform: 'informs', 'proxy-offer': 'proxyOffers', 'proxy-ack': 'proxyAcks' } as const;

/**
 * Says that the store refuses DHCP's writes without a line per batch: on a
 * full disk nearly every batch fails, and a line with a stack per packet
 * would bury the cause. The first refusal is logged at once, later ones at
 * most once per `everyMs`, each line with the counts since the previous one.
 */
export class StoreRefusals {
  private readonly tally: LogTally<{ batches: number; packets: number; answered: number; storeFailed: number }>;
  constructor(private readonly log: Logger, now: () => number, everyMs = 10_000) {
    this.tally = new LogTally(() => ({ batches: 0, packets: 0, answered: 0, storeFailed: 0 }), everyMs, now);
  }

  refused(err: unknown, batch: { packets: number; answered: number; storeFailed: number }): void {
    const since = this.tally.add({ batches: 1, ...batch });
    if (since) this.log.error({ err, ...since }, 'dhcp: store write failed; only replies whose writes were stored, or that need none, were sent');
  }
}

/**
 * Answers datagrams that arrived together; entry i is the reply to batch[i],
 * if any. Never throws. `refusals` should live as long as the service.
 * Every commit here is durable when it returns (synchronous=FULL where a
 * reply rests on it).
 */
export function answerBatch(
  ctx: HandlerContext, metrics: DhcpMetrics, batch: Datagram[], refusals = new StoreRefusals(ctx.log, ctx.now),
): Array<Reply | undefined> {
  let out: Array<Reply | undefined> = [];
  answerBatchDurably(ctx, metrics, batch, refusals, undefined, (replies) => { out = replies; });
  return out;
}

/**
 * answerBatch with the disk flush off the event loop: with a `flusher`, the
 * batch commits with synchronous=NORMAL, and `deliver` gets the replies
 * only once the flusher says the commit is on disk (at once for a batch of
 * DISCOVERs, whose replies rest on nothing stored). Replies whose commit
 * could not be flushed are dropped as 'store-failed'. Without a flusher,
 * `deliver` is called before this returns.
 *
 * With `deliverEarly`, a batch that waits for the flush hands the replies
 * that rest on nothing stored (OFFERs, see needsFsync) to it at once, and
 * only the rest to `deliver` after the flush: an OFFER never waits behind
 * another client's ACK. Entries not handed over in a call are undefined.
 */
export function answerBatchDurably(
  ctx: HandlerContext, metrics: DhcpMetrics, batch: Datagram[], refusals: StoreRefusals,
  flusher: CommitDurability | undefined, deliver: (replies: Array<Reply | undefined>) => void,
  deliverEarly?: (replies: Array<Reply | undefined>) => void,
): void {
  const requests = batch.map((d) => parse(ctx, metrics, d));
  const { outcomes, refused } = decideAll(ctx, requests, flusher !== undefined);
  const mode = ctx.settings.dhcp.mode;
  const waits = flusher !== undefined && needsFsync(mode, requests);
  const afterFlush = requests.map((r) => waits && (deliverEarly === undefined || needsFsync(mode, [r])));
  const final: Array<Outcome | undefined> = [...outcomes];
  const answered = (late: boolean, unflushed?: Error) => requests.map((r, i) => {
    if (!r || afterFlush[i] !== late) return undefined;
    const o = outcomes[i]!;
    final[i] = unflushed && o.kind === 'reply' ? drop('store-failed', `the commit did not reach the disk: ${unflushed.message}`) : o;
    return conclude(ctx, metrics, r, final[i]!);
  });
  const report = (sent: number, unflushed?: Error) => {
    const err = refused ?? unflushed;
    if (err === undefined) return;
    const storeFailed = final.filter((o) => o?.kind === 'drop' && o.reason === 'store-failed').length;
    refusals.refused(err, { packets: batch.length, answered: sent, storeFailed });
  };
  const count = (replies: Array<Reply | undefined> | undefined) => replies?.filter(Boolean).length ?? 0;
  if (!waits) {
    const replies = answered(false);
    report(count(replies));
    return deliver(replies);
  }
  const early = deliverEarly ? answered(false) : undefined;
  if (early?.some(Boolean)) deliverEarly!(early);
  flusher!.afterDurable((unflushed) => {
    const replies = answered(true, unflushed);
    report(count(replies) + count(early), unflushed);
    deliver(replies);
  });
}

/** One datagram on its own: answerBatch with a batch of one. */
export function processDatagram(ctx: HandlerContext, metrics: DhcpMetrics, msg: Buffer, from: Peer, via: Via): Reply | undefined {
  return answerBatch(ctx, metrics, [{ msg, from, via }])[0];
}

function parse(ctx: HandlerContext, metrics: DhcpMetrics, d: Datagram): Request | undefined {
  metrics.received++;
  const parsed = parseDhcp(d.msg);
  if (!parsed.ok) {
    bump(metrics.parseErrors, parsed.error.kind);
    ctx.log.debug({ from: d.from, via: d.via, error: parsed.error }, 'dhcp: unparseable packet dropped');
    return undefined;
  }
  const req = parsed.packet;
  const base = { mac: req.mac, xid: req.xid, type: MESSAGE_NAMES[req.options.messageType ?? 0] ?? req.options.messageType, via: d.via, from: `${d.from.address}:${d.from.port}` };
  return { req, from: d.from, via: d.via, base };
}

/** Outcomes for the whole batch, and the store's error if the one transaction failed. */
function decideAll(ctx: HandlerContext, requests: Array<Request | undefined>, flushedLater: boolean): { outcomes: Array<Outcome | undefined>; refused?: unknown } {
  // Nothing parsed (garbage, a scan): no transaction to open.
  if (requests.every((r) => r === undefined)) return { outcomes: [] };
  const db = ctx.store.db;
  // All transactions on this connection are synchronous, so one open now was
  // left by a rollback that failed. Inside it our commit would only release
  // a savepoint and make nothing durable: abandon it, or write nothing.
  if (db.inTransaction) {
    try {
      db.exec('ROLLBACK');
    } catch (err) {
      return { outcomes: requests.map((r) => r && decideReadOnly(ctx, r)), refused: err };
    }
    // The FULL restore after that batch was refused inside it: made good here.
    syncLevel(db, 'FULL');
  }
  // With sightings written after the turn (the daemon's way), a batch of
  // DISCOVERs writes nothing, so its commit has nothing to sync and the
  // level stays FULL: two statements fewer on the commonest batch. Should
  // something write after all, it commits durably.
  const writes = !(ctx.lifecycle.sightingsLater && discoversOnly(requests));
  const lax = writes && (flushedLater || !needsFsync(ctx.settings.dhcp.mode, requests));
  try {
    if (writes) syncLevel(db, lax ? 'NORMAL' : 'FULL');
    return { outcomes: transacted(db, () => requests.map((r) => r && decide(ctx, r))) };
  } catch (err) {
    if (lax) syncLevel(db, 'FULL');
    // Each datagram alone, until one fails alone too: then the store refuses
    // writes as such, and retrying the rest would only repeat the failure
    // (or, on SQLITE_BUSY, the wait). A batch of one was alone already.
    let refusing = requests.length === 1;
    const outcomes = requests.map((r) => {
      if (!r) return undefined;
      if (!refusing) {
        try {
          return transacted(db, () => decide(ctx, r));
        } catch {
          refusing = true;
        }
      }
      return decideReadOnly(ctx, r);
    });
    return { outcomes, refused: err };
  } finally {
    // Every other writer on this connection (lifecycle, inventory) commits with FULL.
    if (lax) syncLevel(db, 'FULL');
  }
}

/**
 * Sets the connection's commit level. SQLite refuses inside a transaction;
 * one open here was left by a failed rollback, which the next batch
 * abandons before it commits anything, so the refusal is left at that.
 */
function syncLevel(db: Database.Database, level: 'NORMAL' | 'FULL'): void {
  try {
    prepared(db, `PRAGMA synchronous = ${level}`).run();
  } catch {
    /* see above */
  }
}

/**
 * Whether this batch's commit must reach the disk before its replies go
 * out: in full mode, anything but DISCOVERs may bind, release or quarantine
 * an address; a proxy binds nothing.
 */
export function needsFsync(mode: DhcpMode, requests: ReadonlyArray<{ req: DhcpPacket } | undefined>): boolean {
  return mode === 'full' && !discoversOnly(requests);
}

function discoversOnly(requests: ReadonlyArray<{ req: DhcpPacket } | undefined>): boolean {
  return requests.every((r) => r === undefined || r.req.options.messageType === MessageType.DISCOVER);
}

function decideReadOnly(ctx: HandlerContext, r: Request): Outcome {
  // Read-only answers (a renewal's stored lease above all) must rest on
  // committed rows; a transaction a failed rollback left open is not that.
  if (ctx.store.db.inTransaction) return drop('store-failed', 'a failed transaction is still open');
  try {
    return decide({ ...ctx, readOnly: true }, r);
  } catch (err) {
    return drop('store-failed', `the store cannot be read either: ${(err as Error).message}`);
  }
}

/**
 * The handler's outcome. A store error is rethrown so the transaction around
 * it rolls back and nothing that relied on its writes is sent; any other
 * error is a bug in handling this one packet, which is dropped.
 */
function decide(ctx: HandlerContext, { req, from, via, base }: Request): Outcome {
  try {
    if (req.op !== BOOTREQUEST) return drop('not-request', `op ${req.op}`);
    if (req.options.messageType === undefined) return drop('not-request', 'BOOTP without option 53');
    return ctx.settings.dhcp.mode === 'full' ? handleFull(ctx, { packet: req, from, via }) : handleProxy(ctx, { packet: req, from, via });
  } catch (err) {
    // The store's own errors (SQLite's, or PostgreSQL's with `store: postgres://…`) roll the batch back.
    if (isStoreError(err)) throw err;
    ctx.log.error({ ...base, err }, 'dhcp: handler failed; packet dropped');
    return drop('internal-error', `handler failed: ${(err as Error).message}`);
  }
}

/** After the commit: counts and logs what is actually sent, and encodes it. */
function conclude(ctx: HandlerContext, metrics: DhcpMetrics, { base }: Request, outcome: Outcome): Reply | undefined {
  if (outcome.kind === 'drop') {
    bump(metrics.drops, outcome.reason);
    ctx.log.debug({ ...base, drop: outcome.reason }, `dhcp: ${outcome.detail}`);
    return undefined;
  }
  if (outcome.kind === 'done') {
    metrics[outcome.counter === 'release' ? 'releases' : 'declines']++;
    ctx.log.debug(base, `dhcp: ${outcome.detail}`);
    return undefined;
  }
  const encoded = encodeDhcp(outcome.packet, outcome.maxSize);
  if (!encoded.ok) {
    bump(metrics.drops, 'encode-failed');
    ctx.log.warn({ ...base, error: encoded.error }, 'dhcp: reply does not fit the client; dropped');
    return undefined;
  }
  metrics[COUNTER[outcome.type]]++;
  ctx.log.debug({ ...base, to: `${outcome.to.address}:${outcome.to.port}` }, `dhcp: ${outcome.detail}`);
  return { bytes: encoded.bytes, to: outcome.to, outcome };
}
