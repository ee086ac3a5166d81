import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { adminTokenPath, makeDataDirPrivate, provideAdminToken } from '../src/data-dir.js';
import { Store } from '../src/store/store.js';
import { AdminAuth } from '../src/http/admin/auth.js';
import { tempDirs } from './helpers/tmp.js';

const tmp = tempDirs('rb-datadir-');
const quiet = pino({ level: 'silent' });
const mode = (p: string) => statSync(p).mode & 0o777;

describe('the data directory', () => {
  it('an existing directory open to others is made 0700', () => {
    const dir = join(tmp(), 'data');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    makeDataDirPrivate(dir, quiet);
    expect(mode(dir)).toBe(0o700);
  });

  it('a store file left 0644 by an older version is tightened to 0600 when opened', () => {
    const dir = tmp();
    const file = join(dir, 'rackboot.db');
    new Store(file).close();
    chmodSync(file, 0o644);
    const store = new Store(file);
    try {
      expect(mode(file)).toBe(0o600);
      expect(mode(`${file}-wal`)).toBe(0o600);
    } finally {
      store.close();
    }
  });
});

describe('the generated admin token', () => {
  it('is printed only to a terminal, always filed 0600, and works', () => {
    for (const isTTY of [false, true]) {
      const dir = tmp();
      const store = new Store(join(dir, 'rackboot.db'));
      const printed: string[] = [];
      try {
        provideAdminToken(store, undefined, dir, quiet, { isTTY, out: (l) => printed.push(l) });
        const token = readFileSync(adminTokenPath(dir), 'utf8').trim();
        expect(mode(adminTokenPath(dir))).toBe(0o600);
        expect(new AdminAuth(store, false).checkToken(token)).toBe('ok');
        expect(printed).toEqual(isTTY ? [`rackboot: generated admin token (also in ${adminTokenPath(dir)}): ${token}`] : []);
        // A second start finds the token in the store and neither files nor prints a new one.
        provideAdminToken(store, undefined, dir, quiet, { isTTY, out: (l) => printed.push(l) });
        expect(readFileSync(adminTokenPath(dir), 'utf8').trim()).toBe(token);
        expect(printed).toHaveLength(isTTY ? 1 : 0);
      } finally {
        store.close();
      }
    }
  });

  it('a token set in the settings replaces it, and the stale file goes', () => {
    const dir = tmp();
    const store = new Store(join(dir, 'rackboot.db'));
    try {
      provideAdminToken(store, undefined, dir, quiet, { isTTY: false, out: () => undefined });
      expect(existsSync(adminTokenPath(dir))).toBe(true);
      provideAdminToken(store, 'a-settings-token-0123456789', dir, quiet, { isTTY: false, out: () => undefined });
      expect(existsSync(adminTokenPath(dir))).toBe(false);
      expect(new AdminAuth(store, false).checkToken('a-settings-token-0123456789')).toBe('ok');
    } finally {
      store.close();
    }
  });
});
