// DHCPv6 leases in the store's SQLite file (table dhcpv6_leases), one
// address per client. A row with state 'bound' and expires_at in the future
// means that client holds that address now; 'released' and 'expired' keep
// the address sticky for the client but free for others. Times are epoch ms.
import type Database from 'better-sqlite3';
import { ipv6Add, ipv6Bytes, ipv6Distance } from './ipv6.js';
import { transacted } from '../store/prepared.js';

export interface Lease6 { client: string; iaid: number; ip: string; state: 'bound' | 'released' | 'expired' | 'declined'; expiresAt: number; duid: string }
type Row = { client: string; iaid: number; ip: string; state: Lease6['state']; expires_at: number; duid: string };
const toLease = (r: Row): Lease6 => ({ client: r.client, iaid: r.iaid, ip: r.ip, state: r.state, expiresAt: r.expires_at, duid: r.duid });

export interface Pool6 { start: string; end: string }

/** What the book just wrote, for a shared segment to commit before the Reply (branch pg-dhcp6). */
export type Lease6Change =
  | { kind: 'bound'; lease: Lease6 }
  | { kind: 'released'; client: string; ip: string }
  | { kind: 'declined'; lease: Lease6 };

export class Leases6 {
  private readonly q;
  private cursor = 0;
  /** Set only on a shared segment: told of every write the handler makes (a single appliance leaves it unset). */
  onChange: ((change: Lease6Change) => void) | undefined;

  constructor(private readonly db: Database.Database, private readonly now: () => number = Date.now) {
    this.q = {
      byClient: db.prepare('SELECT * FROM dhcpv6_leases WHERE client=?'),
      byIp: db.prepare('SELECT * FROM dhcpv6_leases WHERE ip=?'),
      deleteIp: db.prepare('DELETE FROM dhcpv6_leases WHERE ip=? AND client<>?'),
      upsert: db.prepare(
        `INSERT INTO dhcpv6_leases (client, iaid, ip, state, expires_at, duid, updated_at) VALUES (@client, @iaid, @ip, @state, @expires, @duid, @now)
         ON CONFLICT(client) DO UPDATE SET iaid=@iaid, ip=@ip, state=@state, expires_at=@expires, duid=@duid, updated_at=@now`,
      ),
      setState: db.prepare('UPDATE dhcpv6_leases SET state=?, updated_at=? WHERE client=? AND ip=?'),
      expire: db.prepare("UPDATE dhcpv6_leases SET state='expired', updated_at=@now WHERE state IN ('bound', 'declined') AND expires_at<=@now"),
    };
  }

  get(client: string): Lease6 | undefined {
    const r = this.q.byClient.get(client) as Row | undefined;
    return r ? toLease(r) : undefined;
  }

  /** True when `ip` is bound (or quarantined) to a client other than `client`. */
  heldByOther(ip: string, client: string): boolean {
    const r = this.q.byIp.get(ip) as Row | undefined;
    return !!r && r.client !== client && (r.state === 'bound' || r.state === 'declined') && r.expires_at > this.now();
  }

  /**
   * An address for `client`: its previous one if still free, else one never
   * leased, else one whose lease lapsed. `excluded` marks addresses
   * advertised to others. The scan starts after the last one handed out.
   */
  allocate(client: string, pool: Pool6, excluded: (ip: string) => boolean): string | undefined {
    const lo = ipv6Bytes(pool.start)!;
    const span = ipv6Distance(lo, ipv6Bytes(pool.end)!);
    if (span === undefined || span < 0) return undefined;
    const size = Math.min(span + 1, 1 << 20);
    const mine = this.get(client);
    if (mine && mine.state !== 'declined' && this.inPool(mine.ip, lo, size) && !excluded(mine.ip) && !this.heldByOther(mine.ip, client)) return mine.ip;
    let lapsed: string | undefined;
    for (let k = 0; k < size; k++) {
      const offset = (this.cursor + k) % size;
      const ip = ipv6Add(lo, offset);
      if (excluded(ip)) continue;
      const r = this.q.byIp.get(ip) as Row | undefined;
      if (!r) {
        this.cursor = (offset + 1) % size;
        return ip;
      }
      if (lapsed === undefined && (r.expires_at <= this.now() || (r.state !== 'bound' && r.state !== 'declined'))) lapsed = ip;
    }
    return lapsed;
  }

  private inPool(ip: string, lo: Buffer, size: number): boolean {
    const b = ipv6Bytes(ip);
    const d = b && ipv6Distance(lo, b);
    return d !== undefined && d >= 0 && d < size;
  }

  /** Writes the binding durably before the caller sends its Reply. */
  bind(client: string, iaid: number, ip: string, seconds: number, duid: string): Lease6 {
    const now = this.now();
    transacted(this.db, () => {
      this.q.deleteIp.run(ip, client);
      this.q.upsert.run({ client, iaid, ip, state: 'bound', expires: now + seconds * 1000, duid, now });
    });
    const lease = this.get(client)!;
    this.onChange?.({ kind: 'bound', lease });
    return lease;
  }

  release(client: string, ip: string): boolean {
    const changed = this.q.setState.run('released', this.now(), client, ip).changes > 0;
    if (changed) this.onChange?.({ kind: 'released', client, ip });
    return changed;
  }

  /** RFC 8415 §18.3.8: a declined address is kept from every client for `seconds`. */
  decline(client: string, ip: string, seconds: number, duid: string): void {
    const now = this.now();
    transacted(this.db, () => {
      this.db.prepare('DELETE FROM dhcpv6_leases WHERE ip=?').run(ip);
      this.q.upsert.run({ client: `declined:${ip}`, iaid: 0, ip, state: 'declined', expires: now + seconds * 1000, duid, now });
    });
    this.onChange?.({ kind: 'declined', lease: this.get(`declined:${ip}`)! });
  }

  /** Takes rows from the shared book (a binding another turn made, a refused bind's holder): each replaces what the local book had for its client and its address. */
  adopt(rows: Lease6[]): void {
    const now = this.now();
    transacted(this.db, () => {
      for (const l of rows) {
        this.q.deleteIp.run(l.ip, l.client);
        this.q.upsert.run({ client: l.client, iaid: l.iaid, ip: l.ip, state: l.state, expires: l.expiresAt, duid: l.duid, now });
      }
    });
  }

  /** Makes the local book exactly the shared one (a new answerer, before it answers): rows only this appliance had go. */
  replace(rows: Lease6[]): void {
    transacted(this.db, () => {
      this.db.prepare('DELETE FROM dhcpv6_leases').run();
      this.adopt(rows);
    });
  }

  sweep(): number {
    return this.q.expire.run({ now: this.now() }).changes;
  }
}
