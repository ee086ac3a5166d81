import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passwordPath, readPassword, writePassword } from '../../src/bmc/credentials.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rackboot-bmc-cred-');

describe('BMC password files', () => {
  it('writes 0600 under DATA_DIR/bmc and reads it back without the newline', () => {
    const dir = tmp();
    const file = passwordPath(dir, 'n1');
    expect(file).toBe(join(dir, 'bmc', 'n1.password'));
    writePassword(file, 'p@ss word');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('p@ss word\n');
    expect(readPassword(file, 'n1')).toBe('p@ss word');
    expect(passwordPath(dir, 'n1', '/etc/rackboot/n1.pw')).toBe('/etc/rackboot/n1.pw');
  });

  it('refuses a missing, empty or world-readable file, and an empty or multi-line password', () => {
    const dir = tmp();
    const file = join(dir, 'pw');
    expect(() => readPassword(file, 'n1')).toThrow(/no BMC password for n1 .*run: rackboot bmc password n1/);
    writeFileSync(file, 'secret\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => readPassword(file, 'n1')).toThrow(/readable by others \(mode 644\); chmod 600 it/);
    chmodSync(file, 0o600);
    writeFileSync(file, '\n');
    expect(() => readPassword(file, 'n1')).toThrow(/is empty/);
    expect(() => writePassword(file, '')).toThrow(/empty/);
    expect(() => writePassword(file, 'a\nb')).toThrow(/newline/);
  });
});
