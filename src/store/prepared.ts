// Statements prepared once per connection and SQL text.
//
// better-sqlite3's prepare() parses and plans its SQL on every call, and so
// does db.pragma() (a prepare and a run). On the paths a booting machine
// takes (DHCP's commit level per batch, the script's lease check, a TFTP
// transfer's event) that work ran per packet or request, in the cold code a
// boot storm runs. Only constant SQL belongs here: text built from data (an
// IN list's length) would grow the cache without bound.
import type Database from 'better-sqlite3';

const byConnection = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** `sql` prepared on `db`, once: the same statement object for every caller. */
export function prepared(db: Database.Database, sql: string): Database.Statement {
  let statements = byConnection.get(db);
  if (!statements) byConnection.set(db, (statements = new Map()));
  let s = statements.get(sql);
  if (!s) statements.set(sql, (s = db.prepare(sql)));
  return s;
}

const runners = new WeakMap<Database.Database, { made: Database.Database['transaction']; run: (write: () => unknown) => unknown }>();

/**
 * `write` in a transaction on `db`, as `db.transaction(write)()` would run
 * it (a savepoint inside an open transaction), through one wrapper made once
 * per connection: db.transaction() builds four wrapped functions and their
 * property descriptors at each call, which the per-packet paths paid for
 * every DHCP batch, sighting and lease. The wrapper is made again if the
 * connection's transaction() is replaced (the tests' refusing disks do).
 */
export function transacted<T>(db: Database.Database, write: () => T): T {
  let runner = runners.get(db);
  if (runner?.made !== db.transaction) runners.set(db, (runner = { made: db.transaction, run: db.transaction((w: () => unknown) => w()) }));
  return runner.run(write) as T;
}
