// BMC passwords live outside the inventory (which is in git): one 0600 file
// per node under DATA_DIR/bmc/, written by `rackboot bmc password NODE`, or
// a file the operator names per node (bmc.passwordFile). Never logged.
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BmcError } from './types.js';

export function passwordPath(dataDir: string, node: string, passwordFile?: string): string {
  return passwordFile ?? join(dataDir, 'bmc', `${node}.password`);
}

export function writePassword(file: string, password: string): void {
  if (password === '') throw new Error('an empty BMC password was given; nothing stored');
  if (/[\r\n\0]/.test(password)) throw new Error('a BMC password cannot contain a newline or NUL');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, password + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask cannot widen it, but an existing tmp could have another mode
  renameSync(tmp, file);
}

export function readPassword(file: string, node: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    throw new BmcError('config', `no BMC password for ${node} (${file} does not exist); run: rackboot bmc password ${node}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new BmcError('config', `${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  if (text === '') throw new BmcError('config', `${file} is empty; run: rackboot bmc password ${node}`);
  return text;
}
