// The store tests run once per StateStore implementation: the embedded
// SQLite store, and PgStore on a throwaway PostgreSQL 15 (test/helpers/
// postgres.ts: initdb + pg_ctl in a temp dir, private unix socket), a fresh
// database per store a test opens.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import type { StateStore } from '../../src/store/state-store.js';
import { Store } from '../../src/store/store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { tempDirs } from '../helpers/tmp.js';

export const BACKENDS = ['sqlite', 'postgres'] as const;
export type BackendKind = (typeof BACKENDS)[number];

export interface Backend {
  /** A new, empty store. */
  open(opts?: { now?: () => number }): StateStore;
  /** Another handle on the same data (a restart, or a second appliance on the same database). */
  openAgain(s: StateStore, opts?: { now?: () => number }): StateStore;
  /** Runs SQL directly on the store's database, bypassing the interface. */
  raw(s: StateStore, sql: string): Promise<void>;
  /** The store's file (SQLite) or conninfo (PostgreSQL). */
  location(s: StateStore): string;
}

let databases = 0;

export function useBackend(kind: BackendKind): Backend {
  const tmp = tempDirs('rb-store-');
  let pg: PgRig | undefined;
  const opened: StateStore[] = [];
  const where = new Map<StateStore, string>();
  if (kind === 'postgres') {
    beforeAll(() => { pg = startPostgres(); });
    afterAll(() => pg?.stop());
  }
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
  });
  const at = (location: string, opts?: { now?: () => number }): StateStore => {
    const s = kind === 'sqlite' ? new Store(location, opts) : new PgStore(location, opts);
    opened.push(s);
    where.set(s, location);
    return s;
  };
  return {
    open: (opts) => at(kind === 'sqlite' ? join(tmp(), 'rackboot.db') : pg!.createDatabase(`store_${process.pid}_${++databases}`), opts),
    openAgain: (s, opts) => at(where.get(s)!, opts),
    location: (s) => where.get(s)!,
    async raw(s, sql) {
      if (s instanceof Store) return void s.db.exec(sql);
      const session = new PsqlSession(where.get(s)!);
      try {
        await session.exec(sql);
      } finally {
        await session.close();
      }
    },
  };
}
