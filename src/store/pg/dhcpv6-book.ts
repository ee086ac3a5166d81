// The DHCPv6 lease book on PostgreSQL (issue 21, branch pg-dhcp6): the
// shared `dhcpv6_leases` table (the SQLite DDL, `ip` UNIQUE) is the one book
// of a segment, and the appliance holding DHCPv4's segment lock
// (dhcp-segment.ts) is the one that writes it, over the session holding the
// lock. Why DHCPv4's lock and not one of its own: an operator expects one
// appliance to answer a segment, whatever the family (one place to look, one
// takeover to watch), and a takeover then moves both families at once. An
// appliance with DHCPv4 off starts the same lock for DHCPv6 alone.
//
// No per-datagram read, unlike DHCPv4: the only writer of this table is the
// lock holder, and its RELEASEs and DECLINEs are committed before their Reply
// like its bindings (no outbox delivering late), so the book it read whole
// when it took the segment stays PostgreSQL's table for the whole turn. The
// unique index at commit is still the guarantee that no address is bound to
// two clients, whoever else writes.
import type { Logger } from '../../log.js';
import type { Settings } from '../../settings/settings.js';
import type { Lease6, Lease6Change, Leases6 } from '../../dhcpv6/leases.js';
import type { Commit6, Dhcpv6Sharing } from '../../dhcpv6/sharing.js';
import { PgDhcpSegment, segmentName } from './dhcp-segment.js';
import { PgError, type PsqlSession } from './psql-session.js';

type Row = { client: string; iaid: number; ip: string; state: Lease6['state']; expires_at: number; duid: string };
const COLUMNS = 'client, iaid, ip, state, expires_at, duid';
const toLease = (r: Row): Lease6 => ({ client: r.client, iaid: r.iaid, ip: r.ip, state: r.state, expiresAt: r.expires_at, duid: r.duid });

/**
 * A binding or a DECLINE's quarantine row, in one statement (one round trip,
 * its own transaction): the client's row in the shape the local book writes
 * it, after the address's other rows go: for a binding those nobody holds
 * now (lapsed, released, another client's sticky row), for a DECLINE every
 * one (RFC 8415 §18.3.8: the address is kept from every client). As in
 * DHCPv4's group statement (shared-leases.ts), the insert's row passes a
 * one-time filter on the DELETE's count, so the DELETE is finished first and
 * its rows do not count against the unique index on ip; an address another
 * client still holds fails it (23505), having written nothing.
 */
const WRITE_ROW = `WITH freed AS (DELETE FROM dhcpv6_leases WHERE ip = $3 AND client <> $1
    AND ($8::boolean OR NOT (state IN ('bound', 'declined') AND expires_at > $7::bigint)) RETURNING 1)
  INSERT INTO dhcpv6_leases (client, iaid, ip, state, expires_at, duid, updated_at)
  SELECT $1::text, $2::bigint, $3::text, $4::text, $5::bigint, $6::text, $7::bigint WHERE (SELECT count(*) FROM freed) >= 0
  ON CONFLICT (client) DO UPDATE SET iaid = excluded.iaid, ip = excluded.ip, state = excluded.state, expires_at = excluded.expires_at,
    duid = excluded.duid, updated_at = excluded.updated_at`;

/** One write of the handler: one statement, so one round trip on the segment's session. */
async function apply(s: PsqlSession, change: Lease6Change, now: number): Promise<void> {
  if (change.kind === 'released') {
    await s.exec(`UPDATE dhcpv6_leases SET state = 'released', updated_at = $1 WHERE client = $2 AND ip = $3`, [now, change.client, change.ip]);
    return;
  }
  const l = change.lease;
  await s.exec(WRITE_ROW, [l.client, l.iaid, l.ip, l.state, l.expiresAt, l.duid, now, change.kind === 'declined']);
}

export class PgDhcpv6Book implements Dhcpv6Sharing {
  /** The segment's turn whose table the local book holds (-1: none read yet, or a write failed since). */
  private turn = -1;
  /** The last turn read: a read in the same turn is a re-read after a failed write, not a takeover. */
  private lastRead = -1;
  private bound = 0;
  private readonly totals = { takeovers: 0, rereads: 0, commits: 0, refused: 0 };

  private constructor(
    private readonly segment: PgDhcpSegment,
    private readonly book: Leases6,
    /** Started for DHCPv6 alone (DHCPv4 off): closed with it. */
    private readonly own: boolean,
    private readonly log: Logger | undefined,
    private readonly now: () => number,
  ) {}

  /** On DHCPv4's segment when DHCPv4 runs here, else on the same lock started for DHCPv6 alone. */
  static async start(opts: { settings: Settings; book: Leases6; segment?: PgDhcpSegment; log?: Logger; now?: () => number }): Promise<PgDhcpv6Book> {
    const conninfo = opts.settings.scaleOut?.postgres;
    if (!conninfo) throw new Error('PgDhcpv6Book needs scaleOut.postgres');
    const segment = opts.segment ?? await PgDhcpSegment.start({
      // DHCPv4's book is not served here: nothing of it is mirrored.
      conninfo, segment: segmentName(opts.settings), pollMs: opts.settings.scaleOut?.dhcpPollMs, adopt: () => undefined, log: opts.log, now: opts.now,
    });
    return new PgDhcpv6Book(segment, opts.book, !opts.segment, opts.log, opts.now ?? Date.now);
  }

  answering(): boolean {
    return this.segment.answering();
  }

  async ready(): Promise<boolean> {
    if (!this.segment.answering()) return false;
    const turn = this.segment.turn();
    if (turn === this.turn) return true;
    try {
      const rows = await this.segment.onLockedSession((s) => s.rows<Row>(`SELECT ${COLUMNS} FROM dhcpv6_leases`));
      if (!rows) return false;
      const leases = rows.map(toLease);
      this.book.replace(leases);
      const takeover = turn !== this.lastRead;
      this.totals[takeover ? 'takeovers' : 'rereads']++;
      this.turn = this.lastRead = turn;
      this.bound = leases.filter((l) => l.state === 'bound' && l.expiresAt > this.now()).length;
      if (takeover) this.log?.info({ leases: leases.length }, 'dhcpv6: answering on this segment (book read from the shared store)');
      return true;
    } catch (err) {
      this.log?.warn({ err }, 'dhcpv6: could not read the shared leases: not answering this datagram');
      return false;
    }
  }

  async commit(change: Lease6Change): Promise<Commit6> {
    try {
      const done = await this.segment.onLockedSession((s) => apply(s, change, this.now()).then(() => true));
      if (!done) return this.unsynced('not answering on this segment');
      this.totals.commits++;
      return { ok: true };
    } catch (err) {
      if (!(err instanceof PgError) || err.sqlstate !== '23505' || change.kind === 'released') return this.unsynced((err as Error).message);
      const ip = change.lease.ip;
      const [holder] = (await this.segment.onLockedSession((s) => s.rows<Row>(`SELECT ${COLUMNS} FROM dhcpv6_leases WHERE ip = $1`, [ip])).catch(() => undefined)) ?? [];
      return this.refuse(`${ip} is bound to ${holder?.client ?? 'another client'} in the shared store`, holder && toLease(holder));
    }
  }

  /**
   * A write the local book made but PostgreSQL did not take: the book is read
   * whole again before the next answer, so it never keeps what PostgreSQL
   * lacks (a client moved off a declined address, say, would otherwise get
   * NoBinding for the retransmission that could still record it).
   */
  private unsynced(error: string): Commit6 {
    this.turn = -1;
    return this.refuse(error);
  }

  private refuse(error: string, holder?: Lease6): Commit6 {
    this.totals.refused++;
    this.log?.warn({ error }, 'dhcpv6: Reply not sent: the shared store did not take its lease');
    return { ok: false, error, holder };
  }

  status(): object {
    return { answering: this.answering() ? 1 : 0, sharedLeasesBound: this.bound, totals: { ...this.totals } };
  }

  async close(): Promise<void> {
    if (this.own) await this.segment.close();
  }
}
