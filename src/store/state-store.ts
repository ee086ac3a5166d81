// What callers ask of the store for nodes, their events, discovered machines
// and cluster state: one interface, two implementations. `Store`
// (store.ts) is the embedded SQLite default; `PgStore` (pg/pg-store.ts) keeps
// the same tables in a PostgreSQL database several appliances share. Both
// are synchronous: the DHCP handler and the state machine decide inside one
// call, and PgStore bridges to its client thread (pg/sync-bridge.ts).
import type { Inventory, Role } from '../inventory/types.js';
import type { NodeState } from '../lifecycle/states.js';
import type { InventorySyncResult } from './inventory-sync.js';
import type { StoreReaders } from './readers.js';
import type { DiscoveredRecord, EventRecord, NodeRecord, Sighting } from './store.js';

export interface SetStateExtra {
  failedStep?: string | null;
  markedForInstall?: boolean;
  /**
   * Compare-and-set: the state the caller read. If the node is in another
   * state when the write runs (another process or appliance moved it), the
   * write is refused with StaleStateError and nothing is written.
   */
  from?: NodeState;
}

export class StaleStateError extends Error {
  constructor(readonly node: string, readonly expected: NodeState, readonly actual: NodeState) {
    super(`${node} is ${actual}, not ${expected}: moved by someone else`);
    this.name = 'StaleStateError';
  }
}

export interface StateStore {
  readonly schemaVersion: number;
  close(): void;
  syncInventory(inv: Inventory): InventorySyncResult;
  syncInventoryInSlices(inv: Inventory): Promise<InventorySyncResult>;
  listNodes(opts?: { includeRemoved?: boolean }): NodeRecord[];
  /** Inventory nodes in these states (and of this role, when given), in inventory order. */
  nodesInStates(states: readonly NodeState[], role?: Role): NodeRecord[];
  getNode(name: string): NodeRecord | undefined;
  nodeByMac(mac: string): NodeRecord | undefined;
  /** The state change and its event, in one transaction; callers act on the new state only after this returns. */
  setState(name: string, state: NodeState, reason: string, extra?: SetStateExtra): NodeRecord;
  touch(name: string): void;
  appendEvent(ev: { node?: string | null; mac?: string | null; kind: string; message: string; data?: unknown }): void;
  events(filter?: { node?: string; mac?: string; limit?: number; afterId?: number }): EventRecord[];
  recordDiscovered(s: Sighting): boolean;
  listDiscovered(): DiscoveredRecord[];
  getClusterState(key: string): string | undefined;
  setClusterState(key: string, value: string): void;
  // pg-readers: counts, keys and lookups for the admin page, /metrics, the event stream, sightings and the CLI.
  readonly readers: StoreReaders;
}
