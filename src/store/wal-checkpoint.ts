// WAL checkpoints off the event loop.
//
// SQLite checkpoints automatically inside the commit that takes the WAL past
// wal_autocheckpoint pages (1,000 by default), on the committing thread: for
// the daemon that is the event loop, which then stands still for the page
// copy and two syncs (the WAL before, the database after). Under perfdhcp at
// 400/s that was about five checkpoints a second. With leaseDurability
// process nothing else syncs the WAL, so the checkpoint's WAL sync wrote
// the whole WAL out on the loop (median 3.4 ms, against 0.3 ms with power,
// where the thread-pool fdatasync keeps it clean; README, Performance).
// Here a worker thread with a connection of its own runs PASSIVE
// checkpoints on a timer, and the loop's connection checkpoints only past
// a backstop ten times SQLite's default. PASSIVE never waits for the writer or for readers:
// it copies what it can, and the loop's next commit restarts the WAL once a
// checkpoint has copied all of it, as before.
//
// Durability is unchanged. The checkpointing connection syncs like any
// other (synchronous is never OFF there): the WAL before it copies, the
// database before it records the copy as done, and the WAL is only
// overwritten after that. So WalFlusher's argument (a commit is durable once
// an fdatasync of the -wal file that started after it returned, or once a
// checkpoint moved it) holds whichever thread checkpoints; and kill -9 never
// depended on checkpoints.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own default, restored on the loop's connection if the worker is lost. */
const AUTOCHECKPOINT_PAGES = 1000;
/**
 * The loop's connection still checkpoints past this many WAL pages (40 MB):
 * a backstop should the worker never complete one (a commit landing during
 * every pass). It then copies only what the worker had not.
 */
export const BACKSTOP_PAGES = 10_000;
/** Passes per tick until one copies the whole WAL (see the worker). */
const PASSES_PER_TICK = 4;
/**
 * perfdhcp at 400/s writes about 20 MB of WAL a second (the automatic
 * checkpoint ran five times a second); every 250 ms keeps the WAL at a few
 * MB. A tick with nothing new to copy is one lock check.
 */
export const CHECKPOINT_INTERVAL_MS = 250;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
// A checkpoint syncs the WAL before it copies and the database after;
// NORMAL keeps both syncs in WAL mode (only OFF drops them).
db.pragma('synchronous = NORMAL');
// A writer holding the database briefly is no reason to wait: the next tick copies it.
db.pragma('busy_timeout = 0');
const timer = setInterval(() => {
  try {
    // PASSIVE completes (copies the whole WAL, syncs the database, and so
    // lets the next commit restart the WAL) only if no commit lands while it
    // copies; its report (log = checkpointed) is about the WAL as it was when
    // it began, so it cannot tell. A pass that finds the WAL the length the
    // last one began with says nothing landed: the last one completed. Under
    // a steady stream of commits each further pass copies only what arrived
    // meanwhile, so it is short.
    let row;
    let began = -1;
    let pass = 0;
    while (pass++ < workerData.passes) {
      [row] = db.pragma('wal_checkpoint(PASSIVE)');
      if (row.busy || row.log === began) break;
      began = row.log;
    }
    parentPort.postMessage({ busy: row.busy, log: row.log, checkpointed: row.checkpointed, passes: Math.min(pass, workerData.passes) });
  } catch (err) {
    // SQLITE_BUSY from another checkpointer (a CLI's connection closing): try again next tick.
    if (err && err.code !== 'SQLITE_BUSY') throw err;
  }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface CheckpointReport { busy: number; log: number; checkpointed: number; passes: number }

/** Runs the checkpoints of one WAL-mode database file in a worker thread. */
export class WalCheckpointer {
  private stopped = false;
  /** Checkpoints the worker ran, for tests and metrics. */
  runs = 0;
  lastReport: CheckpointReport | undefined;

  private constructor(private readonly db: Database.Database, private readonly worker: Worker, onLost: (err: Error) => void) {
    worker.on('message', (report: CheckpointReport) => {
      this.runs++;
      this.lastReport = report;
    });
    const lost = (err: Error) => {
      if (this.stopped) return;
      this.stopped = true;
      // Without the worker nothing would checkpoint and the WAL would grow without bound.
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      onLost(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`checkpoint worker exited with code ${code}`)));
    worker.unref();
  }

  /**
   * Moves `db`'s checkpoints to a worker, or returns undefined when it has no
   * WAL file to checkpoint (in memory, or not in WAL mode). `onLost` hears
   * when the worker fails; the connection is then back on SQLite's own
   * automatic checkpoints.
   */
  static start(db: Database.Database, onLost: (err: Error) => void, intervalMs = CHECKPOINT_INTERVAL_MS): WalCheckpointer | undefined {
    if (db.memory || db.name === '') return undefined;
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return undefined;
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file: db.name, intervalMs, passes: PASSES_PER_TICK },
      // A timer and one SQL statement: the smallest heaps V8 accepts.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    return new WalCheckpointer(db, worker, onLost);
  }

  /** Stops the timer and closes the worker's connection; the loop's connection checkpoints on its own close, as SQLite does. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.worker.terminate();
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
