// The appliance's memory: nodes, their append-only event log, leases,
// discovered machines and cluster state, in one SQLite file (WAL mode).
// Every state change is committed here before anything acts on it, so a
// crash can lose an action but never the record of an intent.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Inventory, NodeSpec, Role } from '../inventory/types.js';
import type { NodeState } from '../lifecycle/states.js';
import { migrations } from './migrations.js';
import { ExtraMacOwners } from './extra-macs.js';
import { prepared, transacted } from './prepared.js';
import { syncInventoryInSlices, syncInventoryNow, type InventorySyncResult, type SyncTarget } from './inventory-sync.js';
import { StaleStateError, type SetStateExtra, type StateStore } from './state-store.js';
import { sqliteReaders, type StoreReaders } from './readers.js';
import { WalFlusher } from './wal-flush.js';

export interface NodeRecord {
  name: string;
  mac: string;
  role: NodeSpec['role'];
  ip: string | null;
  uuid: string | null;
  spec: NodeSpec;
  inInventory: boolean;
  state: NodeState;
  stateReason: string;
  stateSince: number;
  failedStep: string | null;
  markedForInstall: boolean;
  lastSeen: number | null;
}

export interface EventRecord {
  id: number;
  at: number;
  node: string | null;
  mac: string | null;
  kind: string;
  message: string;
  data: unknown;
}

export interface DiscoveredRecord {
  mac: string;
  uuid: string | null;
  arch: string | null;
  vendorClass: string | null;
  userClass: string | null;
  relay: string | null;
  source: string;
  firstSeen: number;
  lastSeen: number;
  seenCount: number;
}

export interface Sighting {
  mac: string;
  source: 'dhcp' | 'http' | 'tftp';
  uuid?: string;
  arch?: string;
  vendorClass?: string;
  userClass?: string;
  relay?: string;
}

export type { InventorySyncResult };

export type Row = Record<string, unknown>;

/** Unknown machines kept for the operator; the least recently seen go first. */
export const DISCOVERED_LIMIT = 1000;

/** How long a write waits for another writer (the daemon, a CLI command) before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * The store holds leases, sessions and the admin token's hash: its directory
 * is created 0700 and the file 0600 whatever the umask (the mode given to
 * mkdir/open is only ever narrowed by the umask, never widened).
 */
function createPrivately(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Drops group and other access from a file we own; a read-only file system keeps what it has. */
function tightenToOwner(file: string): void {
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) chmodSync(file, mode & 0o700);
  } catch { /* absent, or not ours to change */ }
}

/** The embedded SQLite implementation of StateStore (the default). */
export class Store implements StateStore {
  readonly db: Database.Database;
  /**
   * Whether writes gathered into one transaction cost less than each in its
   * own: here a commit writes every page it touched once, however many rows
   * changed them. A store whose rows are each a round trip (SharedStore)
   * says false, and callers that could wait to gather writes need not.
   */
  readonly gatheredWritesPay: boolean = true;
  private readonly now: () => number;

  constructor(file: string, opts: { now?: () => number } = {}) {
    if (file !== ':memory:') createPrivately(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // SQLite gives -wal and -shm the main file's mode; a store from before
    // these modes were set is tightened here too.
    if (file !== ':memory:') for (const f of [file, `${file}-wal`, `${file}-shm`]) tightenToOwner(f);
    // FULL: a lease ACKed to a client must survive power loss, not just a crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.now = opts.now ?? Date.now;
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < migrations.length; v++) {
      this.db.transaction(() => {
        this.db.exec(migrations[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Prepared once per SQL text (prepared.ts): DHCP calls the store per packet, and preparing dominated that cost. */
  stmt(sql: string): Database.Statement {
    return prepared(this.db, sql);
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    void this.flusher?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * Makes the node table match the inventory in one transaction. New nodes
   * are registered and marked for install: putting a machine in the
   * inventory is the operator's intent to provision it. Nodes that leave the
   * file keep their row and history, flagged as no longer in the inventory.
   * Only changed nodes are written (see inventory-sync.ts).
   */
  syncInventory(inv: Inventory): InventorySyncResult {
    try {
      return syncInventoryNow(this.syncTarget, inv);
    } finally {
      this.extraMacs.inventoryChanged();
    }
  }

  /** The same, staged in slices that yield to the event loop: for a reload while serving. */
  async syncInventoryInSlices(inv: Inventory, slice?: number): Promise<InventorySyncResult> {
    try {
      return await syncInventoryInSlices(this.syncTarget, inv, slice);
    } finally {
      this.extraMacs.inventoryChanged();
    }
  }

  private readonly extraMacs = new ExtraMacOwners((sql) => this.stmt(sql));

  private get syncTarget(): SyncTarget {
    return { db: this.db, stmt: (sql) => this.stmt(sql), now: this.now, commitThenFlush: (write) => this.commitThenFlush(write) };
  }

  listNodes(opts: { includeRemoved?: boolean } = {}): NodeRecord[] {
    const sql = opts.includeRemoved ? 'SELECT * FROM nodes ORDER BY rowid' : 'SELECT * FROM nodes WHERE in_inventory=1 ORDER BY rowid';
    return (this.stmt(sql).all() as Row[]).map(toNode);
  }

  /**
   * Inventory nodes in these states. Periodic passes ask for the few nodes
   * they act on: reading all 5,000 nodes of a large inventory (and parsing
   * each spec) held the event loop 20-50 ms per call.
   */
  nodesInStates(states: readonly NodeState[], role?: Role): NodeRecord[] {
    if (states.length === 0) return [];
    const rows = this.stmt('SELECT * FROM nodes WHERE in_inventory=1 AND state IN (SELECT value FROM json_each(?)) AND (? IS NULL OR role = ?) ORDER BY rowid')
      .all(JSON.stringify(states), role ?? null, role ?? null) as Row[];
    return rows.map(toNode);
  }

  getNode(name: string): NodeRecord | undefined {
    return this.localNode(name);
  }

  /** This file's row, whatever a subclass reads getNode from (pg/shared-store.ts). */
  private localNode(name: string): NodeRecord | undefined {
    const row = this.stmt('SELECT * FROM nodes WHERE name=?').get(name) as Row | undefined;
    return row ? toNode(row) : undefined;
  }

  /** The inventory node that owns `mac`, as its provisioning MAC or one of its `macs`; removed nodes own nothing. */
  nodeByMac(mac: string): NodeRecord | undefined {
    const byMac = this.stmt('SELECT * FROM nodes WHERE mac=? AND in_inventory=1').get(mac) as Row | undefined;
    if (byMac) return toNode(byMac);
    const owner = this.extraMacs.ownerOf(mac);
    const row = owner === undefined ? undefined : (this.stmt('SELECT * FROM nodes WHERE name=? AND in_inventory=1').get(owner) as Row | undefined);
    return row ? toNode(row) : undefined;
  }

  /**
   * Writes a state change and its event in one transaction. Callers act on
   * the new state only after this returns.
   */
  setState(name: string, state: NodeState, reason: string, extra: SetStateExtra = {}): NodeRecord {
    const now = this.now();
    transacted(this.db, () => {
      const before = this.localNode(name);
      if (!before) throw new Error(`no such node: ${name}`);
      if (extra.from !== undefined && before.state !== extra.from) throw new StaleStateError(name, extra.from, before.state);
      this.stmt(
        `UPDATE nodes SET state=@state, state_reason=@reason, state_since=@now, failed_step=@failedStep,
           marked_for_install=@marked WHERE name=@name`,
      )
        .run({
          name, state, reason, now,
          failedStep: state === 'failed' ? (extra.failedStep ?? before.state) : null,
          marked: (extra.markedForInstall ?? before.markedForInstall) ? 1 : 0,
        });
      this.insertEvent(name, before.mac, 'state', `${before.state} → ${state}: ${reason}`, { from: before.state, to: state, reason });
    });
    return this.localNode(name)!;
  }

  /** A sighting's time: committed without a disk flush (see withoutFlush). */
  touch(name: string): void {
    this.withoutFlush(() => this.stmt('UPDATE nodes SET last_seen=? WHERE name=?').run(this.now(), name));
  }

  /**
   * Runs `write` like withoutFlush and resolves once its commit is on disk:
   * as durable as a FULL commit, but the fdatasync runs in libuv's thread
   * pool (WalFlusher, shared by the callers waiting at the same time), so
   * the event loop serves other requests meanwhile. For a write whose reply
   * must wait for it (the state move behind an install script). Without a
   * -wal file (in memory) it is a FULL commit.
   */
  async commitThenFlush<T>(write: () => T): Promise<T> {
    if (this.flusher === undefined) this.flusher = WalFlusher.forDatabase(this.db) ?? null;
    const flusher = this.flusher;
    if (!flusher) return transacted(this.db, write);
    const result = this.withoutFlush(write);
    await new Promise<void>((resolve, reject) => flusher.afterDurable((err) => (err ? reject(err) : resolve())));
    return result;
  }

  private flusher: WalFlusher | null | undefined;

  /**
   * Runs `write` in one transaction committed with synchronous=NORMAL: it
   * survives kill -9 and is atomic, but reaches the disk with the next FULL
   * commit or checkpoint, not before this returns. For records whose loss to
   * a power cut costs nothing (when a machine was last seen, a transfer's
   * event): a FULL commit is an fdatasync on the event loop, and a boot
   * storm made several per machine (TFTP sighting, script sighting), which
   * held every other request meanwhile. Inside an enclosing transaction,
   * that transaction's commit decides.
   */
  withoutFlush<T>(write: () => T): T {
    if (this.db.inTransaction) return write();
    this.stmt('PRAGMA synchronous = NORMAL').run();
    try {
      return transacted(this.db, write);
    } finally {
      this.stmt('PRAGMA synchronous = FULL').run();
    }
  }

  appendEvent(ev: { node?: string | null; mac?: string | null; kind: string; message: string; data?: unknown }): void {
    this.insertEvent(ev.node ?? null, ev.mac ?? null, ev.kind, ev.message, ev.data);
  }

  private insertEvent(node: string | null, mac: string | null, kind: string, message: string, data?: unknown): void {
    // Cached: a storm of new MACs appends one event each.
    this.stmt('INSERT INTO events (at, node, mac, kind, message, data_json) VALUES (?, ?, ?, ?, ?, ?)')
      .run(this.now(), node, mac, kind, message, data === undefined ? null : JSON.stringify(data));
  }

  events(filter: { node?: string; mac?: string; limit?: number; afterId?: number } = {}): EventRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.node !== undefined) (where.push('node = ?'), args.push(filter.node));
    if (filter.mac !== undefined) (where.push('mac = ?'), args.push(filter.mac));
    if (filter.afterId !== undefined) (where.push('id > ?'), args.push(filter.afterId));
    const sql = `SELECT * FROM (SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY id DESC LIMIT ?) ORDER BY id`;
    args.push(Math.min(filter.limit ?? 200, 5000));
    return (this.stmt(sql).all(...args) as Row[]).map(toEvent);
  }

  /**
   * Records a machine we don't know; the operator decides whether it joins
   * the inventory. Returns true the first time this MAC is seen. Only the
   * DISCOVERED_LIMIT most recently seen machines are kept: anything on the
   * wire can send DHCP from a new MAC, and that must not grow the store, the
   * status page or the API without bound.
   */
  recordDiscovered(s: Sighting): boolean {
    const now = this.now();
    const { seen_count: seenCount } = this.stmt(
      `INSERT INTO discovered (mac, uuid, arch, vendor_class, user_class, relay, source, first_seen, last_seen)
       VALUES (@mac, @uuid, @arch, @vendorClass, @userClass, @relay, @source, @now, @now)
       ON CONFLICT(mac) DO UPDATE SET uuid=COALESCE(@uuid, uuid), arch=COALESCE(@arch, arch),
         vendor_class=COALESCE(@vendorClass, vendor_class), user_class=COALESCE(@userClass, user_class),
         relay=COALESCE(@relay, relay), source=@source, last_seen=@now, seen_count=seen_count+1
       RETURNING seen_count`,
    ).get({
      mac: s.mac, uuid: s.uuid ?? null, arch: s.arch ?? null, vendorClass: s.vendorClass ?? null,
      userClass: s.userClass ?? null, relay: s.relay ?? null, source: s.source, now,
    }) as { seen_count: number };
    if (seenCount !== 1) return false;
    // Every DISCOVER of a storm is a new MAC: pruning must not sort the
    // table each time (that was two thirds of the daemon's CPU under
    // perfdhcp). COUNT(*) adds up the b-tree pages' cell counts, and the
    // oldest rows come off discovered_by_last_seen.
    const { n } = this.stmt('SELECT COUNT(*) AS n FROM discovered').get() as { n: number };
    if (n > DISCOVERED_LIMIT) {
      this.stmt('DELETE FROM discovered WHERE mac IN (SELECT mac FROM discovered ORDER BY last_seen, first_seen LIMIT ?)').run(n - DISCOVERED_LIMIT);
    }
    return true;
  }

  listDiscovered(): DiscoveredRecord[] {
    return (this.stmt('SELECT * FROM discovered ORDER BY last_seen DESC').all() as Row[]).map(toDiscovered);
  }

  private sqliteReaders: StoreReaders | undefined;

  /** This file's answers (readers.ts); a subclass may answer from elsewhere (pg/shared-store.ts). */
  get readers(): StoreReaders {
    return (this.sqliteReaders ??= sqliteReaders({
      db: this.db, stmt: (sql) => this.stmt(sql), getNode: (name) => this.getNode(name),
      lastEvent: (node) => this.events({ node, limit: 1 })[0], clusterState: (key) => this.getClusterState(key),
    }));
  }

  getClusterState(key: string): string | undefined {
    return (this.stmt('SELECT value FROM cluster_state WHERE key=?').get(key) as Row | undefined)?.value as string | undefined;
  }

  setClusterState(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO cluster_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at')
      .run(key, value, this.now());
  }
}

/** Row mappers, shared with the PostgreSQL store (same columns). */
export function toEvent(r: Row): EventRecord {
  return {
    id: r.id as number, at: r.at as number, node: r.node as string | null, mac: r.mac as string | null,
    kind: r.kind as string, message: r.message as string,
    data: r.data_json ? JSON.parse(r.data_json as string) : null,
  };
}

export function toDiscovered(r: Row): DiscoveredRecord {
  return {
    mac: r.mac as string, uuid: r.uuid as string | null, arch: r.arch as string | null,
    vendorClass: r.vendor_class as string | null, userClass: r.user_class as string | null,
    relay: r.relay as string | null, source: r.source as string, firstSeen: r.first_seen as number,
    lastSeen: r.last_seen as number, seenCount: r.seen_count as number,
  };
}

export function toNode(r: Row): NodeRecord {
  return {
    name: r.name as string, mac: r.mac as string, role: r.role as NodeSpec['role'], ip: r.ip as string | null,
    uuid: r.uuid as string | null, spec: JSON.parse(r.spec_json as string) as NodeSpec,
    inInventory: r.in_inventory === 1, state: r.state as NodeState, stateReason: r.state_reason as string,
    stateSince: r.state_since as number, failedStep: r.failed_step as string | null,
    markedForInstall: r.marked_for_install === 1, lastSeen: r.last_seen as number | null,
  };
}
