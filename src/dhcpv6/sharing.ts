// DHCPv6 on a segment shared by several appliances (issue 21, branch
// pg-dhcp6). A single appliance has no sharing: the service answers every
// datagram synchronously from its SQLite book, as before. With
// scaleOut.postgres, DHCPv6 answers only where DHCPv4's segment lock is held
// (one appliance answers both families on a segment, and they move together),
// and every write the handler makes is committed in PostgreSQL before its
// Reply is sent. The implementation is src/store/pg/dhcpv6-book.ts.
import type { Lease6, Lease6Change, Leases6 } from './leases.js';
import type { Outcome6 } from './policy.js';
import { MAX_SHARED_WAITING, sharedBacklog } from '../dhcp/sharing.js';

export type Commit6 = { ok: true } | { ok: false; holder?: Lease6; error: string };

export interface Dhcpv6Sharing {
  answering(): boolean;
  /**
   * Before a datagram is answered. On a new turn (this appliance just took
   * the segment) the local book is first made PostgreSQL's table. False when
   * this appliance does not answer on the segment.
   */
  ready(): Promise<boolean>;
  /** Commits one write of the handler in PostgreSQL over the locked session; the Reply goes out only if it is ok. */
  commit(change: Lease6Change): Promise<Commit6>;
  /** Gauges and counters for /metrics (`totals` become counters). */
  status(): object;
  close(): Promise<void>;
}

const drop = (reason: string, detail: string): Outcome6 => ({ kind: 'drop', reason, detail });

/**
 * One datagram on a shared segment: dropped on a standby; on the answerer,
 * `answer` (the synchronous handler over the local book) runs, and what it
 * wrote is committed in PostgreSQL before its outcome is returned. A write
 * PostgreSQL refuses (the address is bound to another client there, or the
 * lock is gone) withholds the Reply; the client retransmits and is answered
 * from the adopted row.
 */
export async function answerShared6(leases: Leases6, sharing: Dhcpv6Sharing, answer: () => Outcome6): Promise<Outcome6> {
  if (!(await sharing.ready())) return drop('standby', 'another appliance answers DHCPv6 on this segment');
  const changes: Lease6Change[] = [];
  leases.onChange = (c) => changes.push(c);
  let out: Outcome6;
  try {
    out = answer();
  } finally {
    leases.onChange = undefined;
  }
  for (const change of changes) {
    const done = await sharing.commit(change);
    if (done.ok) continue;
    if (done.holder) leases.adopt([done.holder]);
    return drop('shared-store-refused', done.error);
  }
  return out;
}

/**
 * The shared datagrams, one after another (each answered once the previous
 * one's lease is committed). Past `max` waiting (MAX_SHARED_WAITING, as
 * DHCPv4's), `push` refuses (undefined).
 */
export function answerQueue(max = MAX_SHARED_WAITING): { push<T>(work: () => Promise<T>): Promise<T> | undefined; idle(): Promise<unknown> } {
  let tail: Promise<unknown> = Promise.resolve();
  const backlog = sharedBacklog(max);
  return {
    push(work) {
      if (backlog.admit(1) === 0) return undefined;
      const next = tail.then(work).finally(() => backlog.done(1));
      tail = next.catch(() => undefined);
      return next;
    },
    idle: () => tail,
  };
}
