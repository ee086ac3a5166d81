// Read-only view of the DHCP engine's lease table (config endpoint, Talos API endpoints):
// which address currently holds a bound, unexpired lease for a MAC. The DHCP
// service writes the table; expires_at is in ms since the epoch, as every
// timestamp in the store.
import type Database from 'better-sqlite3';
import { prepared } from './prepared.js';

export function boundLeaseAddress(db: Database.Database, mac: string, now = Date.now()): string | undefined {
  const row = prepared(db, "SELECT ip FROM leases WHERE mac = ? AND state = 'bound' AND expires_at > ?").get(mac, now) as { ip: string } | undefined;
  return row?.ip;
}
