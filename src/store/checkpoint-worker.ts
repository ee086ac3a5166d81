// Worker-thread entry: SQLite's WAL checkpoints for the daemon's store, on a
// connection of their own (checkpoint-off-loop.ts says why they are here).
import { openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, gapMs, catchUpMs, pages, busyTimeoutMs } = workerData as { file: string; gapMs: number; catchUpMs: number; pages: number; busyTimeoutMs: number };

const db = new Database(file);
// The checkpoint syncs the WAL before it copies and the database after it, as the daemon's own FULL connection would.
db.pragma('synchronous = FULL');
db.pragma(`busy_timeout = ${busyTimeoutMs}`);

type Checkpointed = { busy: number; log: number; checkpointed: number };
let said = '';
let finishing = false;
let shm: number | undefined;
const header = Buffer.alloc(100);
const u32 = endianness() === 'LE' ? (at: number) => header.readUInt32LE(at) : (at: number) => header.readUInt32BE(at);

/**
 * Frames in the WAL not yet copied into the database, from the wal-index
 * header in the -shm file (sqlite.org/walformat.html: mxFrame at byte 16,
 * the checkpoint's nBackfill at byte 96, native byte order). A torn read only
 * moves one decision by a tick.
 */
function uncopiedFrames(): number {
  try {
    shm ??= openSync(`${file}-shm`, 'r');
    if (readSync(shm, header, 0, 100, 0) < 100) return 0;
    return u32(16) - u32(96);
  } catch {
    return 0; // no -shm yet: nothing written
  }
}

function tick(): void {
  let next = gapMs;
  // Only at SQLite's own threshold: each time the WAL is wholly copied, the next commit starts it over
  // and syncs its new header on the committing connection, the event loop. Checkpointing every tick
  // made that sync four times a second, and a stalled disk then held DHCP (dhcp-flush-off-loop test).
  if (finishing || uncopiedFrames() >= pages) {
    try {
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as Checkpointed[];
      // Commits that landed while this one copied are left for the next. SQLite only starts the WAL
      // over when a writer finds it wholly copied, so under steady writes the rest follows soon, or
      // the WAL would grow for as long as the writes go on.
      finishing = Boolean(r && r.log > r.checkpointed);
      if (finishing) next = catchUpMs;
      // Said only when it changed, so an idle daemon's main thread is not woken for nothing.
      const now = `${r?.log}/${r?.checkpointed}`;
      if (r && now !== said) parentPort?.postMessage({ kind: 'checkpointed', ...r });
      said = now;
    } catch (err) {
      said = '';
      finishing = false;
      parentPort?.postMessage({ kind: 'failed', message: (err as Error).message });
    }
  }
  setTimeout(tick, next);
}

setTimeout(tick, gapMs);
