// RELEASEs and DECLINEs on a shared segment wait here, in the appliance's own
// SQLite, until the shared store has them (issue 21, branch pg-dhcp): a
// database that is away when a client releases must not leave the address
// bound there until its lease runs out. Entries leave in the order they came.
import type Database from 'better-sqlite3';
import type { LeaseFreed } from './sharing.js';

export interface FreedEntry { id: number; change: LeaseFreed; at: number }

export interface FreedOutbox {
  push(change: LeaseFreed, at: number): void;
  /** The oldest entries first. */
  pending(): FreedEntry[];
  done(id: number): void;
}

/** The outbox in the local store (table shared_freed_outbox). */
export function sqliteOutbox(db: Database.Database): FreedOutbox {
  const push = db.prepare('INSERT INTO shared_freed_outbox (change_json, at) VALUES (?, ?)');
  const pending = db.prepare('SELECT id, change_json, at FROM shared_freed_outbox ORDER BY id LIMIT 500');
  const done = db.prepare('DELETE FROM shared_freed_outbox WHERE id = ?');
  return {
    push: (change, at) => void push.run(JSON.stringify(change), at),
    pending: () => (pending.all() as Array<{ id: number; change_json: string; at: number }>).map((r) => ({ id: r.id, change: JSON.parse(r.change_json) as LeaseFreed, at: r.at })),
    done: (id) => void done.run(id),
  };
}

/** The same outbox in memory (a test with no store). */
export function memoryOutbox(): FreedOutbox {
  let next = 1;
  const entries: FreedEntry[] = [];
  return {
    push: (change, at) => void entries.push({ id: next++, change, at }),
    pending: () => entries.slice(),
    done: (id) => {
      const at = entries.findIndex((e) => e.id === id);
      if (at >= 0) entries.splice(at, 1);
    },
  };
}
