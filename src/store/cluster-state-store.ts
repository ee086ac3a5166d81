// The cluster-wide facts the Talos steps must agree on across instances (the
// bootstrap claim, intent and outcome), behind one asynchronous interface:
// the local SQLite store satisfies it for a single appliance (unchanged
// behaviour), PostgreSQL (src/store/pg/coordination.ts) for several.
import type { Store } from './store.js';

export interface ClusterStateStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Takes `key` for `owner` until now+ttlMs unless another owner holds it unexpired; atomic against every other instance. */
  claim(key: string, owner: string, now: number, ttlMs: number): Promise<boolean>;
  /** Frees `key` if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>;
}

export interface Claim { owner: string; until: number }

export function parseClaim(raw: string | undefined): Claim | undefined {
  return raw ? (JSON.parse(raw) as Claim) : undefined;
}

export const FREE_CLAIM = JSON.stringify({ owner: '', until: 0 } satisfies Claim);

/** The claim in an immediate (write-locked) SQLite transaction: one process at a time on one store file. */
export function claimLocal(store: Store, key: string, owner: string, now: number, ttlMs: number): boolean {
  return store.db.transaction(() => {
    const held = parseClaim(store.getClusterState(key));
    if (held && held.owner !== owner && held.until > now) return false;
    store.setClusterState(key, JSON.stringify({ owner, until: now + ttlMs } satisfies Claim));
    return true;
  }).immediate();
}

export function releaseLocal(store: Store, key: string, owner: string): void {
  store.db.transaction(() => {
    if (parseClaim(store.getClusterState(key))?.owner === owner) store.setClusterState(key, FREE_CLAIM);
  }).immediate();
}

export class SqliteClusterState implements ClusterStateStore {
  constructor(private readonly store: Store) {}

  async get(key: string): Promise<string | undefined> {
    return this.store.getClusterState(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.store.setClusterState(key, value);
  }

  async claim(key: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    return claimLocal(this.store, key, owner, now, ttlMs);
  }

  async release(key: string, owner: string): Promise<void> {
    releaseLocal(this.store, key, owner);
  }
}
