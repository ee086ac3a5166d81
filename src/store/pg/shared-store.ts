// An appliance's store with `scaleOut.postgres`: nodes, their events and
// discovered machines are read from and written to the shared PostgreSQL
// (PgStore), so the push decisions of whichever appliance leads come from
// what every appliance's DHCP/HTTP/TFTP saw. Everything else (admin tokens
// and sessions, boot tokens, hardware facts, the local lease book,
// cluster state, which PgCoordination shares under the leader lock) stays in
// this appliance's SQLite, as does a copy of every node, event and sighting
// it writes. The readers' counts and lookups (`readers`: admin page,
// /metrics, event stream, sightings, CLI) answer from PostgreSQL too.
//
// A write goes to PostgreSQL first; only then to the local copy, whose
// failure is logged, never fatal: PostgreSQL is the record.
import type { Inventory, Role } from '../../inventory/types.js';
import type { NodeState } from '../../lifecycle/states.js';
import type { Logger } from '../../log.js';
import type { InventorySyncResult } from '../inventory-sync.js';
import type { SetStateExtra } from '../state-store.js';
import { Store, type DiscoveredRecord, type EventRecord, type NodeRecord, type Sighting } from '../store.js';
import type { StoreReaders } from '../readers.js';
import { KUBECONFIG_STALE_KEY, KUBECONFIG_STALE_SINCE_KEY } from '../../lifecycle/cluster-state.js';
import { LOCAL_CLUSTER_STATE_KEYS } from './copy-from-sqlite.js';
import { PgStore } from './pg-store.js';

/** cluster_state keys only this appliance writes: its Talos service state, and the flag that its own kubeconfig file is stale. */
const KEPT_LOCALLY = new Set([...LOCAL_CLUSTER_STATE_KEYS, KUBECONFIG_STALE_KEY]);

export class SharedStore extends Store {
  readonly shared: PgStore;
  // Each row written to PostgreSQL is its own synchronous round trip on the loop, so a larger batch is only a longer stall.
  override readonly gatheredWritesPay = false;

  constructor(file: string, conninfo: string, private readonly opts: { now?: () => number; log?: Logger } = {}) {
    super(file, opts);
    try {
      this.shared = new PgStore(conninfo, opts);
    } catch (err) {
      super.close();
      throw err;
    }
  }

  private mirror(what: string, write: () => unknown): void {
    if (this.afterCommit) {
      this.afterCommit.push(write);
      return;
    }
    try {
      write();
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, `local copy of a shared ${what} not written`);
    }
  }

  // pg-ops: a PostgreSQL transaction whose local copies wait for its COMMIT and are then written in
  // one short SQLite transaction. The local write lock is never held while PostgreSQL answers (it
  // blocked this appliance's DHCP for those round trips), and a rolled-back write leaves no copy.
  private afterCommit: (() => unknown)[] | undefined;

  /** `fn` in one PostgreSQL transaction (a nested call joins it); the local copies of its writes follow the COMMIT. */
  sharedTransaction<T>(fn: () => T): T {
    if (this.afterCommit) return fn();
    this.afterCommit = [];
    let result: T;
    let writes: (() => unknown)[];
    try {
      result = this.shared.transaction(fn);
    } finally {
      writes = this.afterCommit;
      this.afterCommit = undefined;
    }
    if (writes.length > 0) this.mirror('transaction', () => this.db.transaction(() => { for (const w of writes) w(); }).immediate());
    return result;
  }

  override close(): void {
    this.shared.close();
    super.close();
  }

  override syncInventory(inv: Inventory): InventorySyncResult {
    const result = this.shared.syncInventory(inv);
    this.mirror('inventory', () => super.syncInventory(inv));
    return result;
  }

  override async syncInventoryInSlices(inv: Inventory): Promise<InventorySyncResult> {
    const result = await this.shared.syncInventoryInSlices(inv);
    try {
      await super.syncInventoryInSlices(inv);
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, 'local copy of the shared inventory not written');
    }
    return result;
  }

  override listNodes(opts: { includeRemoved?: boolean } = {}): NodeRecord[] {
    return this.shared.listNodes(opts);
  }

  override nodesInStates(states: readonly NodeState[], role?: Role): NodeRecord[] {
    return this.shared.nodesInStates(states, role);
  }

  override getNode(name: string): NodeRecord | undefined {
    return this.shared.getNode(name);
  }

  override nodeByMac(mac: string): NodeRecord | undefined {
    return this.shared.nodeByMac(mac);
  }

  override setState(name: string, state: NodeState, reason: string, extra: SetStateExtra = {}): NodeRecord {
    const after = this.shared.setState(name, state, reason, extra);
    this.mirror('state change', () => super.setState(name, state, reason, { failedStep: after.failedStep, markedForInstall: after.markedForInstall }));
    return after;
  }

  override touch(name: string): void {
    this.shared.touch(name);
    this.mirror('sighting', () => super.touch(name));
  }

  override appendEvent(ev: { node?: string | null; mac?: string | null; kind: string; message: string; data?: unknown }): void {
    this.shared.appendEvent(ev);
    this.mirror('event', () => super.appendEvent(ev));
  }

  override events(filter: { node?: string; mac?: string; limit?: number; afterId?: number } = {}): EventRecord[] {
    return this.shared.events(filter);
  }

  override recordDiscovered(s: Sighting): boolean {
    const first = this.shared.recordDiscovered(s);
    this.mirror('discovered machine', () => super.recordDiscovered(s));
    return first;
  }

  override listDiscovered(): DiscoveredRecord[] {
    return this.shared.listDiscovered();
  }

  // pg-local: the kubeconfig file stays on each appliance (0600, never in the database); marking this one's stale
  // (etcd destroyed) tells every appliance that a file fetched before now is stale too.
  override setClusterState(key: string, value: string): void {
    super.setClusterState(key, value);
    if (key === KUBECONFIG_STALE_KEY && value === 'true') this.shared.setClusterState(KUBECONFIG_STALE_SINCE_KEY, String((this.opts.now ?? Date.now)()));
  }

  // pg-readers: the page, /metrics, the stream, sightings and the CLI read the shared tables.
  private sharedReaders: StoreReaders | undefined;

  override get readers(): StoreReaders {
    return (this.sharedReaders ??= {
      ...this.shared.readers,
      // Also this appliance's own cluster_state (its Talos service state is never shared).
      changeMark: () => `${this.shared.readers.changeMark()}|${super.readers.changeMark()}`,
      // Shared where PgCoordination writes the key; the keys each appliance keeps for itself are read locally even if
      // PostgreSQL has a row (store migrate copies them once; nothing updates them there).
      clusterState: (key) => (KEPT_LOCALLY.has(key) ? undefined : this.shared.getClusterState(key)) ?? super.getClusterState(key),
    });
  }
}
