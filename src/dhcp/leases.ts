// Leases in the store's SQLite file. Contract other parts rely on: a row
// leases(mac, ip, state='bound', expires_at) means that MAC holds that IP
// now. Other states: 'released' and 'expired' keep the address sticky for
// the MAC but free; 'declined' rows (mac = 'declined:<ip>') quarantine an
// address a client found in use (RFC 2131 §4.3.3). Times are epoch ms.
import type Database from 'better-sqlite3';
import { intToIp, ipToInt } from './ipv4.js';
import type { Pool } from '../settings/settings.js';
import type { LeaseFreed } from './sharing.js';
import { transacted } from '../store/prepared.js';

export interface Lease {
  mac: string;
  ip: string;
  state: 'bound' | 'released' | 'expired' | 'declined';
  expiresAt: number;
  clientId: string | null;
  hostname: string | null;
}

/** After a full pool scan finds nothing, skip scanning this long (or until an address is freed). */
const EXHAUSTED_RETRY_MS = 1000;

type Row = { mac: string; ip: string; state: Lease['state']; expires_at: number; client_id: string | null; hostname: string | null };
const toLease = (r: Row): Lease => ({ mac: r.mac, ip: r.ip, state: r.state, expiresAt: r.expires_at, clientId: r.client_id, hostname: r.hostname });

export class Leases {
  private readonly q;
  /** Per pool, where the next free-address scan starts. */
  private readonly cursors = new Map<string, number>();
  /** Per pool, when a scan last found it full. */
  private readonly exhaustedAt = new Map<string, number>();
  /** Told of every release and decline this book records (the shared store's copy, on a shared segment). */
  onFreed: ((change: LeaseFreed) => void) | undefined;

  constructor(private readonly db: Database.Database, private readonly now: () => number = Date.now) {
    this.q = {
      byMac: db.prepare('SELECT * FROM leases WHERE mac=?'),
      byIp: db.prepare('SELECT * FROM leases WHERE ip=?'),
      all: db.prepare('SELECT * FROM leases'),
      // By index (nodes_ip): reading every node per packet took 18 ms with 5,000 nodes.
      reservedFor: db.prepare('SELECT mac FROM nodes WHERE ip=? AND in_inventory=1'),
      deleteIp: db.prepare('DELETE FROM leases WHERE ip=? AND mac<>?'),
      upsert: db.prepare(
        `INSERT INTO leases (mac, ip, state, expires_at, client_id, hostname, updated_at) VALUES (@mac, @ip, @state, @expires, @clientId, @hostname, @now)
         ON CONFLICT(mac) DO UPDATE SET ip=@ip, state=@state, expires_at=@expires, client_id=COALESCE(@clientId, client_id),
           hostname=COALESCE(@hostname, hostname), updated_at=@now`,
      ),
      setState: db.prepare('UPDATE leases SET state=?, updated_at=? WHERE mac=? AND ip=?'),
      expire: db.prepare("UPDATE leases SET state='expired', updated_at=@now WHERE state='bound' AND expires_at<=@now"),
      unquarantine: db.prepare("DELETE FROM leases WHERE state='declined' AND expires_at<=?"),
    };
  }

  get(mac: string): Lease | undefined {
    const r = this.q.byMac.get(mac) as Row | undefined;
    return r ? toLease(r) : undefined;
  }

  all(): Lease[] {
    return (this.q.all.all() as Row[]).map(toLease);
  }

  /** True when `ip` is held now by someone other than `mac`: a live lease, a quarantine or another node's reservation. */
  heldByOther(ip: string, mac: string): boolean {
    const r = this.q.byIp.get(ip) as Row | undefined;
    if (r && r.mac !== mac && (r.state === 'bound' || r.state === 'declined') && r.expires_at > this.now()) return true;
    return (this.q.reservedFor.all(ip) as { mac: string }[]).some((n) => n.mac !== mac);
  }

  /**
   * An address from `pool` for `mac`: its previous address if still free,
   * else `requested` (the client's option 50) if in the pool and free, else
   * one never leased, else one whose lease has lapsed. `excluded` says
   * which addresses are offered to others and not yet requested. The scan
   * starts after the last address handed out, so a busy pool costs a few
   * lookups per client, not one per address.
   */
  allocate(mac: string, pool: Pool, excluded: (ip: string) => boolean, requested?: string): string | undefined {
    const now = this.now();
    const lo = ipToInt(pool.start);
    const size = ipToInt(pool.end) - lo + 1;
    if (size <= 0) return undefined;
    const reserved = { has: (ip: string) => this.q.reservedFor.get(ip) !== undefined };
    const mine = this.q.byMac.get(mac) as Row | undefined;
    if (mine && mine.state !== 'declined' && ipToInt(mine.ip) - lo >= 0 && ipToInt(mine.ip) - lo < size && !excluded(mine.ip) && !reserved.has(mine.ip)) {
      return mine.ip;
    }
    if (requested !== undefined && ipToInt(requested) - lo >= 0 && ipToInt(requested) - lo < size && !reserved.has(requested) && !excluded(requested)) {
      const r = this.q.byIp.get(requested) as Row | undefined;
      if (!r || r.mac === mac || (r.state !== 'declined' && (r.state !== 'bound' || r.expires_at <= now))) return requested;
    }
    // A DISCOVER flood against a full pool must not cost a full scan each.
    const full = this.exhaustedAt.get(pool.start);
    if (full !== undefined && now - full < EXHAUSTED_RETRY_MS) return undefined;
    let lapsed: string | undefined;
    const cursor = this.cursors.get(pool.start) ?? 0;
    for (let k = 0; k < size; k++) {
      const offset = (cursor + k) % size;
      const ip = intToIp(lo + offset);
      if (reserved.has(ip) || excluded(ip)) continue;
      const r = this.q.byIp.get(ip) as Row | undefined;
      if (!r) {
        this.cursors.set(pool.start, (offset + 1) % size);
        return ip;
      }
      const free = r.expires_at <= now || (r.state !== 'bound' && r.state !== 'declined');
      if (free && lapsed === undefined) lapsed = ip;
    }
    if (lapsed === undefined) this.exhaustedAt.set(pool.start, now);
    return lapsed;
  }

  /**
   * Writes the binding in a transaction (a savepoint inside a DHCP batch's):
   * on its own, durable when it returns (the connection's default level is
   * synchronous=FULL); in a batch, the batch's commit decides: the daemon
   * commits it at NORMAL and holds the ACK until the WAL's flush has covered
   * it (answer.ts). Returns when it expires (epoch ms): what the ACK needs,
   * without reading the row back on the DHCP path.
   */
  bind(mac: string, ip: string, seconds: number, info: { clientId?: string; hostname?: string } = {}): number {
    const now = this.now();
    const expires = now + seconds * 1000;
    transacted(this.db, () => {
      this.q.deleteIp.run(ip, mac);
      this.q.upsert.run({ mac, ip, state: 'bound', expires, clientId: info.clientId ?? null, hostname: info.hostname ?? null, now });
    });
    return expires;
  }

  /**
   * Takes these rows as they are (the shared store's, when this appliance
   * starts answering its segment): a row here with the same MAC or address
   * gives way to the adopted one.
   */
  adopt(leases: Lease[]): void {
    const now = this.now();
    const put = this.db.prepare(`INSERT INTO leases (mac, ip, state, expires_at, client_id, hostname, updated_at) VALUES (@mac, @ip, @state, @expiresAt, @clientId, @hostname, @now)
      ON CONFLICT(mac) DO UPDATE SET ip=@ip, state=@state, expires_at=@expiresAt, client_id=@clientId, hostname=@hostname, updated_at=@now`);
    transacted(this.db, () => {
      for (const l of leases) {
        this.q.deleteIp.run(l.ip, l.mac);
        put.run({ ...l, now });
      }
    });
    this.exhaustedAt.clear();
  }

  release(mac: string, ip: string): boolean {
    this.exhaustedAt.clear();
    const released = this.q.setState.run('released', this.now(), mac, ip).changes > 0;
    if (released) this.onFreed?.({ kind: 'released', mac, ip });
    return released;
  }

  /** Quarantines `ip` for `seconds` and drops the MAC's claim on it. */
  decline(mac: string, ip: string, seconds: number): void {
    const now = this.now();
    transacted(this.db, () => {
      this.db.prepare('DELETE FROM leases WHERE ip=?').run(ip);
      this.q.upsert.run({ mac: `declined:${ip}`, ip, state: 'declined', expires: now + seconds * 1000, clientId: null, hostname: null, now });
    });
    this.onFreed?.({ kind: 'declined', ip, until: now + seconds * 1000 });
  }

  /** Marks lapsed leases expired and ends finished quarantines; returns how many rows changed. */
  sweep(): number {
    const now = this.now();
    const changed = this.q.expire.run({ now }).changes + this.q.unquarantine.run(now).changes;
    if (changed) this.exhaustedAt.clear();
    return changed;
  }
}
