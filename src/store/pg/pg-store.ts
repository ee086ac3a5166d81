// The StateStore in a PostgreSQL database several appliances share: nodes,
// their events, discovered machines and cluster state, in the tables the
// SQLite migrations' twins create (migrations.ts). Synchronous like the
// SQLite store, over one session on a client thread (sync-bridge.ts).
//
// Isolation: READ COMMITTED, plus what each write needs.
// - A state change locks the node's row (SELECT … FOR UPDATE) from the read
//   of the old state to the write, in one transaction, and with `from`
//   refuses to write if the node is no longer in the state the caller read
//   (compare-and-set): two appliances moving one node cannot both win, and
//   neither overwrites the other's move unseen.
// - An inventory load takes the nodes table's lock (pg-inventory-sync.ts).
// - Discovered machines are one upsert; cluster state one upsert per key.
import { performance } from 'node:perf_hooks';
import type { Inventory, Role } from '../../inventory/types.js';
import type { NodeState } from '../../lifecycle/states.js';
import { syncInventoryInSlices, syncInventoryNow, type InventoryStage, type InventorySyncResult, type SyncInventoryStage } from '../inventory-sync.js';
import { StoreUnavailableError } from '../errors.js';
import { StaleStateError, type SetStateExtra, type StateStore } from '../state-store.js';
import {
  DISCOVERED_LIMIT, toDiscovered, toEvent, toNode,
  type DiscoveredRecord, type EventRecord, type NodeRecord, type Row, type Sighting,
} from '../store.js';
import { migratePgSync, NODE_EXTRA_MACS, PG_MIGRATIONS } from './migrations.js';
import { pgInventoryStage, pgInventoryStageAsync } from './pg-inventory-sync.js';
import { pgReaders } from './pg-readers.js';
import { InventoryMacs } from './inventory-macs.js';
import type { Logger } from '../../log.js';
import type { StoreReaders } from '../readers.js';
import { clientConfig, PsqlSession } from './psql-session.js';
import { SyncPgSession } from './sync-bridge.js';

/** After a lost session, how long calls fail at once before the next connection attempt (the DHCP loop must not wait on every packet). */
export const RECONNECT_BACKOFF_MS = 1000;

export class PgStore implements StateStore {
  private session: SyncPgSession;
  private retryAt = 0;
  private readonly config: ReturnType<typeof clientConfig>;
  private readonly now: () => number;
  private depth = 0;

  /** `conninfo`: a libpq connection string or postgres:// URI. Connects and migrates before it returns. */
  constructor(private readonly conninfo: string, opts: { now?: () => number; queryTimeoutMs?: number } = {}) {
    this.config = clientConfig(conninfo);
    this.queryTimeoutMs = opts.queryTimeoutMs;
    this.session = new SyncPgSession(this.config, this.queryTimeoutMs);
    this.now = opts.now ?? Date.now;
    try {
      migratePgSync((sql, params) => this.q(sql, params));
    } catch (err) {
      this.session.close();
      throw err;
    }
  }

  private readonly queryTimeoutMs: number | undefined;
  private closed = false;

  /** One statement on the session; a lost session is replaced on a later call (not inside a transaction: that one failed). */
  private q<T = Row>(sql: string, params?: readonly unknown[]): T[] {
    if (!this.session.alive && !this.closed && this.depth === 0) {
      if (performance.now() < this.retryAt) throw new StoreUnavailableError('the shared database session was lost; reconnecting shortly');
      this.session = new SyncPgSession(this.config, this.queryTimeoutMs);
    }
    try {
      return this.session.query<T>(sql, params);
    } catch (err) {
      if (!this.session.alive) this.retryAt = performance.now() + RECONNECT_BACKOFF_MS;
      throw err;
    }
  }

  /** `fn` in one transaction (a nested call joins the outer one). */
  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.q('BEGIN');
    this.depth++;
    try {
      const out = fn();
      this.q('COMMIT');
      return out;
    } catch (err) {
      try { this.q('ROLLBACK'); } catch { /* the session is gone: the server rolled back */ }
      throw err;
    } finally {
      this.depth--;
    }
  }

  get schemaVersion(): number {
    return this.q<{ version: number | null }>('SELECT max(version) AS version FROM rackboot_schema')[0]?.version ?? 0;
  }

  /** The number of twins this code knows; schemaVersion reaches it after the constructor. */
  static readonly latestVersion = PG_MIGRATIONS.length;

  close(): void {
    this.closed = true;
    void this.inventoryMacs?.close().catch(() => undefined);
    this.session.close();
  }

  private inventoryMacs: InventoryMacs | undefined;

  /**
   * The daemon's: from the first read on, a MAC no inventory node lists is
   * answered "no node" from memory, with no round trip (inventory-macs.ts).
   * Resolves once the first read is done or failed.
   */
  watchInventoryMacs(log?: Logger): Promise<void> {
    if (this.inventoryMacs) return Promise.resolve();
    this.inventoryMacs = new InventoryMacs(this.conninfo, log);
    return this.inventoryMacs.start();
  }

  // While this store applies an inventory, and until its set of MACs is read
  // again after, lookups ask the database (the set cannot lag its own apply).
  syncInventory(inv: Inventory): InventorySyncResult {
    const release = this.inventoryMacs?.hold();
    try {
      return syncInventoryNow(this.inventoryStage, inv);
    } finally {
      release?.();
    }
  }

  /** Staged in slices and applied on a session of its own, every statement awaited: the event loop runs on meanwhile (pg-inventory-sync.ts). */
  syncInventoryInSlices(inv: Inventory, slice?: number): Promise<InventorySyncResult> {
    const release = this.inventoryMacs?.hold();
    return syncInventoryInSlices(this.reloadStage, inv, slice).finally(() => release?.());
  }

  // One owner for both: a load on either refuses the other until it ends.
  private readonly inventoryStage: SyncInventoryStage = pgInventoryStage({
    owner: this, q: (sql, params) => this.q(sql, params), transaction: (fn) => this.transaction(fn), now: () => this.now(),
  });

  private readonly reloadStage: InventoryStage = pgInventoryStageAsync(this, () => new PsqlSession(this.conninfo), () => this.now());

  listNodes(opts: { includeRemoved?: boolean } = {}): NodeRecord[] {
    const sql = opts.includeRemoved ? 'SELECT * FROM nodes ORDER BY rowid' : 'SELECT * FROM nodes WHERE in_inventory=1 ORDER BY rowid';
    return this.q(sql).map(toNode);
  }

  nodesInStates(states: readonly NodeState[], role?: Role): NodeRecord[] {
    if (states.length === 0) return [];
    return this.q('SELECT * FROM nodes WHERE in_inventory=1 AND state = ANY($1::text[]) AND ($2::text IS NULL OR role = $2) ORDER BY rowid', [states, role ?? null]).map(toNode);
  }

  getNode(name: string): NodeRecord | undefined {
    const [row] = this.q('SELECT * FROM nodes WHERE name=$1', [name]);
    return row ? toNode(row) : undefined;
  }

  nodeByMac(mac: string): NodeRecord | undefined {
    if (this.inventoryMacs?.lists(mac) === false) return undefined;
    const [row] = this.q('SELECT * FROM nodes WHERE mac=$1 AND in_inventory=1 ORDER BY rowid LIMIT 1', [mac]);
    if (row) return toNode(row);
    const [other] = this.q(`SELECT * FROM nodes WHERE in_inventory=1 AND ${NODE_EXTRA_MACS} ? $1 ORDER BY rowid LIMIT 1`, [mac]);
    return other ? toNode(other) : undefined;
  }

  setState(name: string, state: NodeState, reason: string, extra: SetStateExtra = {}): NodeRecord {
    const now = this.now();
    return this.transaction(() => {
      const [row] = this.q('SELECT * FROM nodes WHERE name=$1 FOR UPDATE', [name]);
      if (!row) throw new Error(`no such node: ${name}`);
      const before = toNode(row);
      if (extra.from !== undefined && before.state !== extra.from) throw new StaleStateError(name, extra.from, before.state);
      const [after] = this.q(
        `UPDATE nodes SET state=$2, state_reason=$3, state_since=$4, failed_step=$5, marked_for_install=$6 WHERE name=$1 RETURNING *`,
        [name, state, reason, now, state === 'failed' ? (extra.failedStep ?? before.state) : null,
          (extra.markedForInstall ?? before.markedForInstall) ? 1 : 0],
      );
      this.insertEvent(name, before.mac, 'state', `${before.state} → ${state}: ${reason}`, { from: before.state, to: state, reason });
      return toNode(after!);
    });
  }

  touch(name: string): void {
    this.q('UPDATE nodes SET last_seen=$1 WHERE name=$2', [this.now(), name]);
  }

  appendEvent(ev: { node?: string | null; mac?: string | null; kind: string; message: string; data?: unknown }): void {
    this.insertEvent(ev.node ?? null, ev.mac ?? null, ev.kind, ev.message, ev.data);
  }

  private insertEvent(node: string | null, mac: string | null, kind: string, message: string, data?: unknown): void {
    this.q('INSERT INTO events (at, node, mac, kind, message, data_json) VALUES ($1, $2, $3, $4, $5, $6)',
      [this.now(), node, mac, kind, message, data === undefined ? null : JSON.stringify(data)]);
  }

  events(filter: { node?: string; mac?: string; limit?: number; afterId?: number } = {}): EventRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (filter.node !== undefined) where.push(`node = ${arg(filter.node)}`);
    if (filter.mac !== undefined) where.push(`mac = ${arg(filter.mac)}`);
    if (filter.afterId !== undefined) where.push(`id > ${arg(filter.afterId)}`);
    const limit = arg(Math.min(filter.limit ?? 200, 5000));
    return this.q(`SELECT * FROM (SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY id DESC LIMIT ${limit}) e ORDER BY id`, args).map(toEvent);
  }

  recordDiscovered(s: Sighting): boolean {
    // One statement, one round trip on the loop per unknown machine's first
    // DISCOVER: the upsert, and past the limit the prune, as Store does (the
    // oldest off the (last_seen, first_seen) index, never a sort of the whole
    // list). Every part of a WITH reads the table as it was before the
    // statement (PostgreSQL's WITH rules), so the count is the one before the
    // insert (+1 for the new row), and the prune cannot pick the new row.
    const [row] = this.q<{ seen_count: number }>(
      `WITH up AS (INSERT INTO discovered AS d (mac, uuid, arch, vendor_class, user_class, relay, source, first_seen, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (mac) DO UPDATE SET uuid=COALESCE($2, d.uuid), arch=COALESCE($3, d.arch),
         vendor_class=COALESCE($4, d.vendor_class), user_class=COALESCE($5, d.user_class),
         relay=COALESCE($6, d.relay), source=$7, last_seen=$8, seen_count=d.seen_count+1
       RETURNING seen_count),
       over AS (SELECT CASE WHEN seen_count = 1 THEN GREATEST(0, (SELECT count(*) FROM discovered) + 1 - $9) ELSE 0 END AS n FROM up),
       pruned AS (DELETE FROM discovered WHERE mac IN (SELECT mac FROM discovered ORDER BY last_seen, first_seen LIMIT (SELECT n FROM over)))
       SELECT seen_count FROM up`,
      [s.mac, s.uuid ?? null, s.arch ?? null, s.vendorClass ?? null, s.userClass ?? null, s.relay ?? null, s.source, this.now(), DISCOVERED_LIMIT],
    );
    return row?.seen_count === 1;
  }

  listDiscovered(): DiscoveredRecord[] {
    return this.q('SELECT * FROM discovered ORDER BY last_seen DESC').map(toDiscovered);
  }

  getClusterState(key: string): string | undefined {
    return this.q<{ value: string }>('SELECT value FROM cluster_state WHERE key=$1', [key])[0]?.value;
  }

  setClusterState(key: string, value: string): void {
    this.q(`INSERT INTO cluster_state (key, value, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at`, [key, value, this.now()]);
  }

  // pg-readers: the readers' counts and lookups over the shared tables.
  readonly readers: StoreReaders = pgReaders((sql, params) => this.q(sql, params), (key) => this.getClusterState(key));

  // branch pg-shared: the stores that keep their rows in this database beside
  // the nodes (src/store/pg/pg-reimage-marks.ts and its neighbours) run their
  // statements on this session, so they join its transactions.
  /** One statement on this store's session (inside `transaction` when called from it). */
  sharedQuery<T = Row>(sql: string, params?: readonly unknown[]): T[] {
    return this.q<T>(sql, params);
  }
}
