// Recognises the SQLite failures that mean "the store cannot be written
// right now" (disk full, read-only file system or database, I/O error), so
// callers can degrade (answer what needs no write, tell clients to retry)
// instead of failing as if the request were wrong.
const WRITE_FAILURES = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|PERM)/;

export function isStoreWriteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && WRITE_FAILURES.test(code);
}

export const STORE_UNWRITABLE = 'the appliance cannot write its store (disk full or read-only)';
