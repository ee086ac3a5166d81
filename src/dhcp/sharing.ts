// Several appliances on one segment (issue 21): who answers DHCP there, and
// where a binding must be committed before its ACK goes out. A single
// appliance has no sharing at all (the DHCP service runs exactly as before:
// it answers always and its SQLite commit is the only one). With
// scaleOut.postgres the sharing is src/store/pg/dhcp-segment.ts.
import type Database from 'better-sqlite3';
import { macText } from '../inventory/mac.js';
import type { Logger } from '../log.js';
import type { Lease, Leases } from './leases.js';
import type { DhcpMetrics, Reply } from './answer.js';
import { transacted } from '../store/prepared.js';

/**
 * Packets on a shared segment that may wait for the database at once, for
 * DHCPv4 and DHCPv6 alike: past this, more are dropped (`shared-backlog`)
 * until some are answered. A database that hangs with its connection open
 * must not make the appliance queue packets without bound until its session
 * is declared dead; clients retransmit.
 */
export const MAX_SHARED_WAITING = 256;

/** Counts the packets waiting for the shared store: `admit` takes as many of `n` as there is room for, `done` gives them back. */
export function sharedBacklog(max = MAX_SHARED_WAITING): { admit(n: number): number; done(n: number): void } {
  let waiting = 0;
  return {
    admit(n) {
      const taken = Math.max(0, Math.min(n, max - waiting));
      waiting += taken;
      return taken;
    },
    done(n) {
      waiting -= n;
    },
  };
}

/** One binding an ACK is about to promise. */
export interface SharedBind {
  mac: string;
  ip: string;
  expiresAt: number;
  clientId?: string | null;
  hostname?: string | null;
}

/** `expiresAt`: the expiry of the lease released, as the local book had it (names that lease instance, see applyFreed). */
export type LeaseFreed = { kind: 'released'; mac: string; ip: string; expiresAt?: number } | { kind: 'declined'; ip: string; until: number };

/** A release as the shared store is told of it: with the expiry of the lease it ends. */
export function withReleasedExpiry(leases: Leases, change: LeaseFreed): LeaseFreed {
  if (change.kind !== 'released') return change;
  const lease = leases.get(change.mac);
  return lease?.ip === change.ip ? { ...change, expiresAt: lease.expiresAt } : change;
}

export interface DhcpSharing {
  /** True while this instance is the one that answers on its segment; the others stay silent. */
  answering(): boolean;
  /**
   * Commits the bindings in the shared store; per bind, whether it is
   * committed there (only those may be ACKed). A refused bind returns the
   * row that holds the address, so the local book can adopt it.
   */
  commitBinds(binds: SharedBind[]): Promise<Array<{ ok: true } | { ok: false; holder?: Lease; error?: string }>>;
  /** Records a RELEASE or a DECLINE quarantine the local book took (after any commit queued before it). */
  recordFreed(change: LeaseFreed): Promise<void>;
  /** Brings the local book up to the shared store's leases before a batch is answered from it. */
  refresh(): Promise<void>;
  /** Gauges and counters for /metrics (numbers, `totals` become counters). */
  status(): object;
  close(): Promise<void>;
}

/** Makes the local book exactly `rows` (the shared store's table): rows only this appliance had go. */
export function replaceBook(db: Database.Database, leases: Leases, rows: Lease[]): void {
  transacted(db, () => {
    db.prepare('DELETE FROM leases').run();
    leases.adopt(rows);
  });
}

/**
 * One batch on a shared segment: dropped on a standby; on the answerer, the
 * local book is refreshed from the shared store first, so the addresses the
 * handler chooses are chosen from PostgreSQL's leases, and every ACK waits
 * for its commit there. Resolves to the replies to send.
 */
export async function answerShared(
  ctx: { leases: Leases; log: Logger },
  sharing: DhcpSharing,
  metrics: DhcpMetrics,
  batchSize: number,
  answer: () => Array<Reply | undefined> | Promise<Array<Reply | undefined>>,
): Promise<Array<Reply | undefined>> {
  const drop = () => {
    metrics.received += batchSize;
    metrics.drops.standby = (metrics.drops.standby ?? 0) + batchSize;
    return [];
  };
  if (!sharing.answering()) return drop();
  await sharing.refresh();
  if (!sharing.answering()) return drop();
  return commitSharedAcks(ctx, sharing, metrics, await answer());
}

/**
 * Holds back every ACK in `replies` until its binding is committed in the
 * shared store; an ACK the shared store refuses is not sent (the client
 * retries and is answered from the adopted row). Returns the replies to send.
 */
export async function commitSharedAcks(
  ctx: { leases: Leases; log: Logger },
  sharing: DhcpSharing,
  metrics: DhcpMetrics,
  replies: Array<Reply | undefined>,
): Promise<Array<Reply | undefined>> {
  const acks: Array<{ at: number; bind: SharedBind }> = [];
  replies.forEach((r, at) => {
    if (r?.outcome.type !== 'ack') return;
    const p = r.outcome.packet;
    const mac = macText(p.chaddr.subarray(0, p.hlen));
    const lease = ctx.leases.get(mac);
    const ip = p.yiaddr ?? '';
    acks.push({ at, bind: { mac, ip, expiresAt: lease?.ip === ip ? lease.expiresAt : 0, clientId: lease?.clientId, hostname: lease?.hostname } });
  });
  if (acks.length === 0) return replies;
  const results = await sharing.commitBinds(acks.map((a) => a.bind));
  const out = replies.slice();
  results.forEach((res, i) => {
    if (res.ok) return;
    const { at, bind } = acks[i]!;
    out[at] = undefined;
    metrics.acks--;
    metrics.drops['shared-store-refused'] = (metrics.drops['shared-store-refused'] ?? 0) + 1;
    if (res.holder) ctx.leases.adopt([res.holder]);
    ctx.log.warn({ mac: bind.mac, ip: bind.ip }, `dhcp: ACK not sent: ${res.error ?? 'the shared store refused the binding'}`);
  });
  return out;
}
