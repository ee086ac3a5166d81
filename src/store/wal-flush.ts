// Durability of WAL commits without holding the event loop for the disk.
//
// A commit made with synchronous=NORMAL in WAL mode is in the -wal file (in
// the OS's page cache) when it returns: atomic, visible, and it survives
// kill -9, but not a power cut. fdatasync of the -wal file then makes every
// commit before it durable. SQLite itself syncs the WAL before each
// checkpoint copies it into the database (and the database after), so a
// commit that a checkpoint moved out of the WAL before our sync was made
// durable by that checkpoint; and the WAL is only overwritten after a
// checkpoint completed. So "committed, then an fdatasync of the -wal file
// that started after the commit returned" means durable, as a FULL commit
// would have been.
//
// The sync runs in libuv's thread pool (fs.fdatasync), so the loop keeps
// answering meanwhile. Waiters that arrive while a sync runs share the next
// one: group commit across batches, one sync in flight at a time.
import { closeSync, fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';

type Waiter = (err: Error | undefined) => void;

/** When a commit made with synchronous=NORMAL counts as kept, for replies that rest on it. */
export interface CommitDurability {
  /** Calls `done` once everything committed before this call is kept, or with the error that kept it from that. */
  afterDurable(done: Waiter): void;
  close(): Promise<void>;
}

/**
 * Kept once committed: a WAL commit is in the OS's page cache when it
 * returns, so it survives kill -9 of the process (and a restart of the
 * daemon), but not a power cut or a kernel crash before the kernel writes
 * it back (ext4 by default within about 30 s), or before a checkpoint's sync.
 */
export const PROCESS_DURABLE: CommitDurability = {
  afterDurable: (done) => done(undefined),
  close: async () => undefined,
};

/**
 * The least time between two write-behind syncs. One sync after every ACK
 * (about 300 a second at 400 DORA/s) cost 3-45% more daemon CPU than none,
 * mostly the completion each one runs on the loop; the checkpoint only needs
 * the WAL nearly written, and at 400/s 10 ms leaves about 4 commits for it.
 */
export const WRITE_BEHIND_GAP_MS = 10;

/**
 * Kept once committed, like PROCESS_DURABLE, and the WAL is written back
 * behind the reply by the thread pool, at most one sync per `gapMs`, and
 * always one after the last commit. Nothing waits for that sync; it is
 * there so SQLite's automatic checkpoint, which runs inside a commit on the
 * event loop and syncs the WAL first, finds the WAL (nearly) on disk.
 * Without it the checkpoint wrote the WAL out itself with the loop waiting
 * (median 3.4 ms under perfdhcp at 400/s, against 0.3 ms when each ACK's
 * flush had kept it clean; bench/HISTORY.md, round 6). The daemon now
 * checkpoints in a worker (checkpoint-off-loop.ts), so that cost is off the
 * loop; the sync stays for what it keeps behind the ACK: a power cut then
 * takes at most about the last gapMs of leases, not the kernel's ~30 s.
 */
export function writeBehind(flusher: CommitDurability | undefined, gapMs = WRITE_BEHIND_GAP_MS): CommitDurability {
  if (!flusher) return PROCESS_DURABLE;
  let dirty = false;
  let syncing = false;
  let timer: NodeJS.Timeout | undefined;
  let lastStart = -Infinity;
  const start = () => {
    timer = undefined;
    dirty = false;
    syncing = true;
    lastStart = performance.now();
    flusher.afterDurable(() => {
      syncing = false;
      kick();
    });
  };
  // A commit that lands while a sync runs or waits for its turn is covered by the next one.
  const kick = () => {
    if (!dirty || syncing || timer) return;
    const wait = lastStart + gapMs - performance.now();
    if (wait <= 0) start();
    else timer = setTimeout(start, wait);
  };
  return {
    afterDurable(done) {
      done(undefined);
      dirty = true;
      kick();
    },
    close: () => {
      clearTimeout(timer);
      timer = undefined;
      return flusher.close();
    },
  };
}

/** Kept once an fdatasync of the WAL that started after the commit returned: survives power loss. */
export class WalFlusher implements CommitDurability {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  private waiting: Waiter[] = [];
  private closed = false;
  /** Syncs started and finished, for tests and metrics. */
  syncs = 0;

  private constructor(private readonly walPath: string) {}

  /**
   * A flusher for this connection's database, or undefined when there is no
   * -wal file to sync (in memory, or not in WAL mode): then commit with
   * synchronous=FULL as before.
   */
  static forDatabase(db: Database.Database): WalFlusher | undefined {
    if (db.memory || db.name === '') return undefined;
    const mode = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
    return mode === 'wal' ? new WalFlusher(`${db.name}-wal`) : undefined;
  }

  /**
   * Calls `done` once everything committed on this database before this call
   * is on disk, or with the error that kept it from getting there.
   */
  afterDurable(done: Waiter): void {
    if (this.closed) return done(new Error('the store is closing'));
    this.waiting.push(done);
    if (!this.running) this.running = this.syncNext();
  }

  private async syncNext(): Promise<void> {
    while (this.waiting.length) {
      const batch = this.waiting.splice(0);
      const err = await this.syncOnce();
      for (const done of batch) {
        try {
          done(err);
        } catch { /* a waiter's own failure is its own */ }
      }
    }
    this.running = undefined;
  }

  private syncOnce(): Promise<Error | undefined> {
    try {
      // Read-only is enough: Linux syncs the file, whatever the descriptor's mode.
      this.fd ??= openSync(this.walPath, 'r');
    } catch (err) {
      return Promise.resolve(err as Error);
    }
    const fd = this.fd;
    return new Promise((resolve) => fdatasync(fd, (err) => {
      this.syncs++;
      resolve(err ?? undefined);
    }));
  }

  /** Waits for a sync in flight (its waiters are answered), then lets the descriptor go. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
