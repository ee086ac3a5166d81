// Worker-thread entry: SQLite's WAL checkpoints for the daemon's store, on a
// connection of their own (checkpoint-off-loop.ts says why they are here).
import { openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { readWalIndex, type WalIndex } from './wal-index.js';

const { file, gapMs, growingGapMs, catchUpMs, pages, busyTimeoutMs } = workerData as
  { file: string; gapMs: number; growingGapMs: number; catchUpMs: number; pages: number; busyTimeoutMs: number };

const db = new Database(file);
// The checkpoint syncs the WAL before it copies and the database after it, as the daemon's own FULL connection would.
db.pragma('synchronous = FULL');
db.pragma(`busy_timeout = ${busyTimeoutMs}`);

type Checkpointed = { busy: number; log: number; checkpointed: number };
let said = '';
let framesBefore = 0;
let shm: number | undefined;
const header = Buffer.alloc(100);

/** A torn read of the header only moves one decision by a look. */
function walIndex(): WalIndex {
  try {
    shm ??= openSync(`${file}-shm`, 'r');
    return readWalIndex(shm, header);
  } catch {
    return { frames: 0, copied: 0 }; // no -shm yet: nothing written
  }
}

/** False when it failed (a full disk fails it at every try: looked at again only after `gapMs`). */
function checkpoint(): boolean {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Checkpointed[];
    // Said only when it changed, so an idle daemon's main thread is not woken for nothing.
    const now = `${r?.log}/${r?.checkpointed}`;
    if (r && now !== said) parentPort?.postMessage({ kind: 'checkpointed', ...r });
    said = now;
    return true;
  } catch (err) {
    said = '';
    parentPort?.postMessage({ kind: 'failed', message: (err as Error).message });
    return false;
  }
}

/**
 * Checkpoints when the WAL is `pages` frames long, as SQLite's own
 * auto-checkpoint bounds it (here plus what commits add between two looks,
 * `growingGapMs` while they go on). The length, not the uncopied frames,
 * decides: SQLite starts the WAL over only in a transaction that began with
 * the WAL wholly copied, and a commit whose transaction began while the copy
 * ran lands after it, so then no later one starts over and the WAL grows on
 * (it filled the disk-full test's 6 MB disk during the run that had space)
 * until a checkpoint copies everything again: hence the look again after
 * `catchUpMs`. Not sooner than the threshold: each wholly copied WAL costs
 * the next commit, on the event loop, a sync of the new WAL header
 * (checkpointing every 250 ms made that four times a second, and a stalled
 * disk then held DHCP: dhcp-flush-off-loop test).
 */
function tick(): void {
  const { frames, copied } = walIndex();
  let next = frames !== framesBefore ? growingGapMs : gapMs;
  framesBefore = frames;
  if (frames > copied && frames >= pages) {
    next = checkpoint() ? catchUpMs : gapMs;
  }
  setTimeout(tick, next);
}

setTimeout(tick, gapMs);
