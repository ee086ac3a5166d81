// Recognises the failures that mean "the store cannot be written right now"
// (disk full, read-only file system or database, I/O error; on PostgreSQL
// also a read-only server or session, a full disk, the server shutting down
// or unreachable), so callers can degrade (answer what needs no write, tell
// clients to retry) instead of failing as if the request were wrong.
import Database from 'better-sqlite3';

const WRITE_FAILURES = /^(SQLITE_(FULL|READONLY|IOERR|CANTOPEN|PERM)|STORE_UNAVAILABLE)/;
// SQLSTATE: 25006 read_only_sql_transaction (default_transaction_read_only,
// a hot standby), class 53 insufficient resources (disk full, out of
// memory), class 08 connection exceptions, 57P01-57P03 admin or crash
// shutdown and "cannot connect now".
const PG_WRITE_FAILURES = /^(25006|53...|08...|57P0[123])$/;

export function isStoreWriteError(err: unknown): boolean {
  const { code, sqlstate } = (err ?? {}) as { code?: unknown; sqlstate?: unknown };
  return (typeof code === 'string' && WRITE_FAILURES.test(code)) || (typeof sqlstate === 'string' && PG_WRITE_FAILURES.test(sqlstate));
}

/** The store's database session is gone (PostgreSQL stopped, the path to it lost): as unwritable as a read-only disk, and reads fail too. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
}

export const STORE_UNWRITABLE = 'the appliance cannot write its store (disk full, read-only, or its database unreachable)';

/** An error raised by the store (SQLite, the PostgreSQL server, or the lost session to it), not by the code around it. */
export function isStoreError(err: unknown): boolean {
  return err instanceof Database.SqliteError || err instanceof StoreUnavailableError || typeof (err as { sqlstate?: unknown } | null)?.sqlstate === 'string';
}
