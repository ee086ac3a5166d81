import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BACKSTOP_PAGES, WalCheckpointer } from '../../src/store/wal-checkpoint.js';

const dirs: string[] = [];
const open: Array<{ db: Database.Database; cp?: WalCheckpointer }> = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.cp?.stop();
    o.db.close();
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function walDatabase(): { db: Database.Database; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rb-ckpt-'));
  dirs.push(dir);
  const file = join(dir, 'store.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB)');
  return { db, file };
}

/** Commits about 3 WAL pages per row, one small transaction at a time as DHCP does: 2,500 rows cross SQLite's 1,000-page automatic checkpoint several times. */
function writePages(db: Database.Database, rows = 2500): void {
  const insert = db.prepare('INSERT INTO t (pad) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run(Buffer.alloc(3000, i & 0xff));
}

const size = (f: string) => statSync(f).size;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WalCheckpointer', () => {
  it('keeps checkpoints out of the commits on the calling thread', async () => {
    const { db, file } = walDatabase();
    // A tick that never comes inside this test: only the loop's own commits could checkpoint.
    const cp = WalCheckpointer.start(db, () => undefined, 3_600_000);
    open.push({ db, cp });
    const before = size(file);
    writePages(db);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    // Nothing was copied into the database file; it is all still in the WAL.
    expect(size(file)).toBe(before);
    expect(size(`${file}-wal`)).toBeGreaterThan(2500 * 3000);
  });

  it('still checkpoints on the calling thread past the backstop, should the worker never get there', () => {
    const { db, file } = walDatabase();
    const cp = WalCheckpointer.start(db, () => undefined, 3_600_000);
    open.push({ db, cp });
    const before = size(file);
    writePages(db, Math.ceil(BACKSTOP_PAGES / 2));
    expect(size(file)).toBeGreaterThan(before + 2500 * 3000);
  });

  it('copies the WAL into the database from its worker, and the next commit restarts the WAL', async () => {
    const { db, file } = walDatabase();
    const cp = WalCheckpointer.start(db, () => undefined, 50)!;
    open.push({ db, cp });
    writePages(db);
    // The worker also ran while the loop wrote: only a report from a tick that started after the writes counts.
    await sleep(20); // reports queued during the writes arrive first
    const runsAfterWrites = cp.runs + 1;
    const deadline = Date.now() + 20_000;
    while (!(cp.runs > runsAfterWrites && cp.lastReport!.log > 0 && cp.lastReport!.checkpointed === cp.lastReport!.log) && Date.now() < deadline) await sleep(50);
    expect(cp.lastReport).toMatchObject({ busy: 0 });
    expect(cp.lastReport!.checkpointed).toBe(cp.lastReport!.log);
    expect(size(file)).toBeGreaterThan(2500 * 3000);
    // Everything was copied, so the next commits write from the WAL's start
    // again: the file does not grow to twice its size (it may grow a little
    // where the writes outran the worker's next copy).
    const walSize = size(`${file}-wal`);
    writePages(db);
    expect(size(`${file}-wal`)).toBeLessThan(walSize * 1.5);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 5000 });
  });

  it('gives the checkpoints back to SQLite when its worker is lost, and when stopped', async () => {
    const { db } = walDatabase();
    let lost: Error | undefined;
    const cp = WalCheckpointer.start(db, (err) => (lost = err), 3_600_000)!;
    open.push({ db, cp });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    // The worker dying some other way than stop() (here: terminated from outside).
    await (cp as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await sleep(50);
    expect(lost?.message).toMatch(/exited/);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);

    const again = WalCheckpointer.start(db, () => undefined, 3_600_000)!;
    open.push({ db: new Database(':memory:'), cp: again });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    await again.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it('has nothing to do for a database without a WAL', () => {
    const db = new Database(':memory:');
    open.push({ db });
    expect(WalCheckpointer.start(db, () => undefined)).toBeUndefined();
  });
});
