// SQLite's automatic WAL checkpoint runs inside the commit that crosses
// wal_autocheckpoint (1,000 pages), on the committing connection: for the
// daemon that is the event loop. A checkpoint syncs the WAL, copies its pages
// into the database and syncs that: 3-6 ms every half second under perfdhcp
// at 200 DORA/s on this project's bench box (perf trace of the main thread,
// bench/HISTORY.md, round 20), and the DHCP exchanges queued behind it were
// the p99 tail. Here the main connection stops checkpointing and a worker
// thread with its own connection checkpoints (PASSIVE: writers never wait for
// it) before the WAL grows past CHECKPOINT_PAGES, SQLite's own bound, looking
// every CHECKPOINT_GAP_MS, or CHECKPOINT_GROWING_GAP_MS while it grows. What
// a checkpoint keeps is the same wherever it runs (wal-flush.ts): a commit is
// in the WAL before it returns. What stays on the loop: the sync of the WAL's
// new header by the commit that starts it over after a checkpoint, as often
// as before (checkpoint-worker.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { BUSY_TIMEOUT_MS } from './store.js';

/** How often the worker looks at a WAL that did not grow since its last look. */
export const CHECKPOINT_GAP_MS = 250;
/** How often it looks while the WAL grows: at 200 DORA/s that is about 100 pages a look. */
export const CHECKPOINT_GROWING_GAP_MS = 50;
/** The WAL length, in pages, that makes a checkpoint: SQLite's own wal_autocheckpoint default. */
export const CHECKPOINT_PAGES = 1000;
/** The next look after a checkpoint, for a commit that landed after the copy (see checkpoint-worker.ts). */
export const CHECKPOINT_CATCH_UP_MS = 20;

/** The compiled worker: beside this module in dist/, or, when this runs from src/ (vitest), the build in dist/. */
export function checkpointWorkerFile(): string | undefined {
  for (const rel of ['./checkpoint-worker.js', '../../dist/store/checkpoint-worker.js']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}

export interface OffLoopCheckpoints {
  /** Each checkpoint's result as SQLite gives it (frames in the WAL, frames copied), when it changed; for tests. */
  onCheckpoint(fn: (r: { log: number; checkpointed: number }) => void): void;
  stop(): Promise<void>;
}

/**
 * Moves `db`'s checkpoints to a worker thread. Undefined (and the loop keeps
 * SQLite's own) for an in-memory database or without the compiled worker.
 */
export function checkpointOffLoop(db: Database.Database, file: string, log?: Logger,
  timing: { gapMs?: number; growingGapMs?: number; catchUpMs?: number; pages?: number } = {}): OffLoopCheckpoints | undefined {
  if (file === ':memory:') return undefined;
  const script = checkpointWorkerFile();
  if (!script) {
    log?.warn('WAL checkpoints stay on the event loop: the checkpoint worker (dist/store/checkpoint-worker.js) is missing');
    return undefined;
  }
  const worker = new Worker(script, {
    // None of the daemon's Node flags: the worker needs none, and some (--input-type) stop a file worker from starting.
    execArgv: [],
    workerData: { file, gapMs: timing.gapMs ?? CHECKPOINT_GAP_MS, growingGapMs: timing.growingGapMs ?? CHECKPOINT_GROWING_GAP_MS, catchUpMs: timing.catchUpMs ?? CHECKPOINT_CATCH_UP_MS, pages: timing.pages ?? CHECKPOINT_PAGES, busyTimeoutMs: BUSY_TIMEOUT_MS },
  });
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  let reportedFailure = false;
  const listeners: Array<(r: { log: number; checkpointed: number }) => void> = [];
  const backOnLoop = (why: string) => {
    if (stopping) return;
    stopping = true;
    // SQLite's default back: checkpoints on the loop are slower, never absent.
    if (db.open) db.pragma(`wal_autocheckpoint = ${CHECKPOINT_PAGES}`);
    log?.error({ why }, 'the WAL checkpoint worker ended: checkpoints are back on the event loop');
  };
  worker.on('message', (m: { kind: 'checkpointed'; log: number; checkpointed: number } | { kind: 'failed'; message: string }) => {
    if (m.kind === 'checkpointed') {
      reportedFailure = false;
      for (const fn of listeners) fn(m);
    } else if (!reportedFailure) {
      // Once per run of failures: a file that cannot be checkpointed fails at every look until it mends.
      reportedFailure = true;
      log?.warn({ err: m.message }, 'WAL checkpoint failed; the worker tries again');
    }
  });
  worker.on('error', (err) => backOnLoop(err.message));
  worker.on('exit', (code) => backOnLoop(`exit code ${code}`));
  // After the listeners: adding a 'message' listener refs the worker again (Node 20), and a
  // referenced worker kept a stopped daemon's process alive.
  worker.unref();
  return {
    onCheckpoint: (fn) => void listeners.push(fn),
    async stop() {
      stopping = true;
      await worker.terminate();
    },
  };
}
