// What the admin page, /metrics, the event stream, the console and TFTP
// sightings and the CLI read besides whole nodes and events: counts, keys
// and lookups, one method each, so that with scaleOut.postgres they come
// from the shared database (pg/pg-readers.ts) and not from this appliance's
// copy. The SQLite answers below are the statements these readers ran on
// the store's handle before, unchanged (same SQL, same prepared-statement
// cache), so the default store costs what it did.
import type { NodeState } from '../lifecycle/states.js';
import { NODE_STATES } from '../lifecycle/states.js';
import type { EventRecord, NodeRecord } from './store.js';
import type Database from 'better-sqlite3';

/** What the overview's filter, search and counts need of every node; whole records are read only for a page. */
export type NodeKey = Pick<NodeRecord, 'name' | 'mac' | 'ip' | 'state'>;

/** A `state` event's row, for stage timelines. */
export interface StateEventRow { node: string; at: number; data_json: string | null }

export interface LeaseRow { mac: string; ip: string; hostname: string | null }

/** The node_hostname row: what the node's Talos API reported as its hostname (talos/node-hostname.ts reads it). */
export interface HostnameRow { hostname: string; domainname: string; seen_in: string; read_at: number }

/** One node of a listed page with what its row shows: the lease it booted from, its last event and its reported hostname. */
export interface PageNode { node: NodeRecord; lease: LeaseRow | undefined; last: EventRecord | undefined; hostname: HostnameRow | undefined }

/** The event-derived totals /metrics exposes. */
export interface EventTotals { reimagesRequested: number; nodeFailures: number; discovered: number }

export interface StoreReaders {
  /** Inventory nodes by state. */
  nodeStateCounts(): Record<NodeState, number>;
  /** Every inventory node's key, in inventory order (listNodes'). */
  inventoryNodeKeys(): NodeKey[];
  /** The `state` events of these nodes, oldest first. */
  stateEvents(names: readonly string[]): StateEventRow[];
  eventTotals(): EventTotals;
  /** Moves when an event is appended, cluster state is written or a machine is discovered (the event stream polls it). */
  changeMark(): string;
  /** The UUIDs the inventory's nodes have (discovery flags duplicates). */
  inventoryUuids(): string[];
  /** Every lease row (the overview's search matches IPs and hostnames). */
  leaseRows(): LeaseRow[];
  /** The most recently updated lease of any of these MACs. */
  latestLease(macs: readonly string[]): LeaseRow | undefined;
  /** The MAC a lease gives `ip` to, expired or not (TFTP has only the client's IP). */
  leasedMac(ip: string): string | undefined;
  /** The inventory node sending from `ip`: its inventory IP first, then an unexpired lease of its MAC. */
  nodeForAddress(ip: string, now: number): string | undefined;
  /** These nodes (those that exist, in this order), each with its latest lease over its MACs, its last event and its reported hostname. */
  pageNodes(names: readonly string[]): PageNode[];
  /** A cluster_state value as the cluster knows it (the shared one where there is one). */
  clusterState(key: string): string | undefined;
}

export function emptyStateCounts(): Record<NodeState, number> {
  return Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
}

export function countsFromRows(rows: readonly { state: NodeState; n: number }[]): Record<NodeState, number> {
  const counts = emptyStateCounts();
  for (const r of rows) if (r.state in counts) counts[r.state] = r.n;
  return counts;
}

/** SQLite's answers, on the store's own handle and statement cache. */
/** What the SQLite answers need of the store besides its handle: the per-node reads a page made before. */
export interface SqliteReaderDeps {
  db: Database.Database;
  stmt(sql: string): Database.Statement;
  getNode(name: string): NodeRecord | undefined;
  lastEvent(node: string): EventRecord | undefined;
  clusterState(key: string): string | undefined;
}

export function nodeMacs(n: NodeRecord): string[] {
  return n.spec.macs?.length ? n.spec.macs : [n.mac];
}

export function sqliteReaders({ db, stmt, getNode, lastEvent, clusterState }: SqliteReaderDeps): StoreReaders {
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  /** eventTotals' running counts, up to and including event `last`. */
  let counted = { last: 0, reimagesRequested: 0, nodeFailures: 0 };
  const latestLease = (macs: readonly string[]) => db.prepare(`SELECT mac, ip, hostname FROM leases WHERE mac IN (${macs.map(() => '?').join(',')}) ORDER BY updated_at DESC LIMIT 1`)
    .get(...macs) as LeaseRow | undefined;
  return {
    // Counted by SQLite: reading every node (and parsing its spec) took 40-90 ms per scrape with 5,000 nodes.
    nodeStateCounts: () => countsFromRows(stmt('SELECT state, count(*) AS n FROM nodes WHERE in_inventory = 1 GROUP BY state').all() as { state: NodeState; n: number }[]),
    inventoryNodeKeys: () => stmt('SELECT name, mac, ip, state FROM nodes WHERE in_inventory=1 ORDER BY rowid').all() as NodeKey[],
    stateEvents: (names) => {
      const out: StateEventRow[] = [];
      // SQLite allows 32766 parameters; a page is far smaller, but chunk anyway.
      for (let i = 0; i < names.length; i += 500) {
        const chunk = names.slice(i, i + 500);
        out.push(...db.prepare(`SELECT node, at, data_json FROM events WHERE kind = 'state' AND node IN (${chunk.map(() => '?').join(',')}) ORDER BY id`)
          .all(...chunk) as StateEventRow[]);
      }
      return out;
    },
    eventTotals: () => {
      // Events are append-only (the table's triggers refuse UPDATE and
      // DELETE) and AUTOINCREMENT ids only grow, so each scrape counts the
      // rows after the last one it saw, by rowid range, and adds them to
      // what it counted before. Counting the whole table ran at every
      // /metrics scrape and grew with the log (12.6 ms at 105,000 events,
      // warm, on the round-13 machine; a 5,000-node reload adds 5,000).
      const row = stmt(`SELECT max(id) AS last,
          count(*) FILTER (WHERE kind='reimage' AND json_extract(data_json,'$.step')='requested') AS reimages,
          count(*) FILTER (WHERE kind='state' AND json_extract(data_json,'$.to')='failed') AS failures
        FROM events WHERE id > ?`).get(counted.last) as { last: number | null; reimages: number; failures: number };
      const totals = { reimagesRequested: counted.reimagesRequested + row.reimages, nodeFailures: counted.nodeFailures + row.failures };
      // Rows read inside an open transaction may still roll back, and their ids be used again: counted now, not kept.
      if (row.last !== null && !db.inTransaction) counted = { last: row.last, ...totals };
      return { ...totals, discovered: count('SELECT count(*) AS n FROM discovered') };
    },
    changeMark: () => {
      const row = db.prepare(`SELECT (SELECT ifnull(max(id),0) FROM events) AS e, (SELECT ifnull(max(updated_at),0) FROM cluster_state) AS c,
        (SELECT ifnull(max(last_seen),0) || '/' || count(*) FROM discovered) AS d`).get() as Record<string, unknown>;
      return `${row.e}|${row.c}|${row.d}`;
    },
    // Only the inventory's UUIDs, not whole node records: this runs on every overview render.
    inventoryUuids: () => (stmt('SELECT uuid FROM nodes WHERE in_inventory=1 AND uuid IS NOT NULL').all() as { uuid: string }[]).map((r) => r.uuid),
    leaseRows: () => stmt('SELECT mac, ip, hostname FROM leases').all() as LeaseRow[],
    latestLease,
    // One node at a time, as the page always read them: each is a few indexed lookups in SQLite.
    pageNodes: (names) => names.map(getNode).filter((n): n is NodeRecord => !!n)
      .map((node) => ({
        node, lease: latestLease(nodeMacs(node)), last: lastEvent(node.name),
        hostname: stmt('SELECT hostname, domainname, seen_in, read_at FROM node_hostname WHERE node=?').get(node.name) as HostnameRow | undefined,
      })),
    leasedMac: (ip) => (stmt('SELECT mac FROM leases WHERE ip = ?').get(ip) as { mac: string } | undefined)?.mac,
    nodeForAddress: (ip, now) => {
      const byIp = stmt('SELECT name FROM nodes WHERE ip=? AND in_inventory=1').get(ip) as { name: string } | undefined;
      if (byIp) return byIp.name;
      return (stmt('SELECT n.name AS name FROM leases l JOIN nodes n ON n.mac = l.mac WHERE l.ip=? AND l.expires_at > ? AND n.in_inventory=1')
        .get(ip, now) as { name: string } | undefined)?.name;
    },
    clusterState,
  };
}
