// The wal-index header read from the -shm file agrees with what SQLite itself reports.
import { describe, expect, it } from 'vitest';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { readWalIndex } from '../../src/store/wal-index.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-walidx-');

describe('readWalIndex', () => {
  it('gives the WAL length and the copied frames SQLite\'s own checkpoint reports', () => {
    const file = join(tmp(), 'rackboot.db');
    const store = new Store(file);
    store.db.pragma('wal_autocheckpoint = 0');
    const shm = openSync(`${file}-shm`, 'r');
    try {
      store.db.exec('CREATE TABLE t (v BLOB)');
      const put = store.db.prepare('INSERT INTO t VALUES (?)');
      for (let i = 0; i < 20; i++) put.run(Buffer.alloc(3000, i));
      const before = readWalIndex(shm);
      const [r] = store.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
      expect(before.frames).toBe(r!.log);
      expect(before.copied).toBeLessThan(before.frames);
      expect(readWalIndex(shm)).toEqual({ frames: r!.log, copied: r!.checkpointed });
      expect(r!.checkpointed).toBe(r!.log);
    } finally {
      closeSync(shm);
      store.close();
    }
  });

  it('a header not written yet reads as an empty WAL', () => {
    const file = join(tmp(), 'short-shm');
    writeFileSync(file, Buffer.alloc(40, 0xff));
    const fd = openSync(file, 'r');
    try {
      expect(readWalIndex(fd)).toEqual({ frames: 0, copied: 0 });
    } finally {
      closeSync(fd);
    }
  });
});
