// What `serve` does with its data directory before anything else: the
// directory is made private (0700), and an admin token generated at first
// start goes into a 0600 file there, never into a log line. The token is
// shown on screen only when a person is watching (stdout is a terminal):
// under systemd or docker stdout is a journal that other people read.
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.js';
import type { Store } from './store/store.js';
import { writeSecretFile } from './talos/secrets.js';
import { ensureAdminToken } from './http/admin/auth.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, ADMIN_TOKEN_FILE);
}

/** Creates the data directory 0700, or takes group and other access away from an existing one. */
export function makeDataDirPrivate(dataDir: string, log: Logger): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  try {
    chmodSync(dataDir, mode & 0o700);
    log.warn({ dataDir, was: mode.toString(8), now: (mode & 0o700).toString(8) }, 'the data directory was open to other users; made it private');
  } catch (err) {
    log.warn({ dataDir, mode: mode.toString(8), err }, 'the data directory is open to other users and could not be made private');
  }
}

export interface TokenAnnouncer {
  /** True when stdout is a terminal a person is reading. */
  isTTY: boolean;
  /** Writes a line to stdout. */
  out: (line: string) => void;
}

/**
 * Makes sure the store has an admin token. One generated now is written to
 * DATA/admin-token (0600) and its path logged; the token itself is printed
 * only to a terminal. A token from the settings makes a generated file stale,
 * so the file is removed rather than left holding a token that no longer works.
 */
export function provideAdminToken(store: Store, settingsToken: string | undefined, dataDir: string, log: Logger, screen: TokenAnnouncer): void {
  const file = adminTokenPath(dataDir);
  const generated = ensureAdminToken(store, settingsToken);
  if (generated) {
    try {
      writeSecretFile(file, generated + '\n');
    } catch (err) {
      // Only the hash is stored: without the file nobody holds this token.
      throw new Error(`generated an admin token but could not write it to ${file} (${(err as Error).message}); set adminToken in the settings and start again`);
    }
    log.warn({ file }, 'generated an admin token (first start); it is in this file, readable only by this user');
    if (screen.isTTY) screen.out(`rackboot: generated admin token (also in ${file}): ${generated}`);
    return;
  }
  if (settingsToken && existsSync(file)) {
    unlinkSync(file);
    log.info({ file }, 'adminToken is set in the settings; removed the generated token file, which no longer works');
  }
}
