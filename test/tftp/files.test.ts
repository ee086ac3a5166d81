import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkName, TftpFiles } from '../../src/tftp/files.js';

let dir: string;
let root: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rbt-files-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'ipxe.efi'), 'EFI');
  writeFileSync(join(root, 'sub', 'x.bin'), 'X');
  writeFileSync(join(dir, 'secret'), 'SECRET');
  symlinkSync(join(dir, 'secret'), join(root, 'out-link'));
  symlinkSync('ipxe.efi', join(root, 'in-link'));
  symlinkSync(dir, join(root, 'out-dir'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TFTP file names', () => {
  it.each([
    ['../secret', 'path segment'],
    ['sub/../../secret', 'path segment'],
    ['/etc/passwd', 'absolute path'],
    ['sub\\x.bin', 'backslash'],
    ['..\\secret', 'backslash'],
    ['a\0b', 'control'],
    ['ipxe.efi\r\0', 'control'],
    ['ipxe.efi\r\n', 'control'],
    ['\xc0\xae\xc0\xae/secret', 'non-ASCII'],
    ['./ipxe.efi', 'path segment'],
    ['sub//x.bin', 'path segment'],
    ['sub/', 'path segment'],
    ['x'.repeat(256), 'longer than 255'],
  ])('refuses %j', (name, why) => {
    const r = checkName(name);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });

  it('accepts plain relative names', () => {
    expect(checkName('sub/x.bin')).toEqual({ ok: true, segments: ['sub', 'x.bin'] });
  });
});

describe('TftpFiles', () => {
  it('serves files under the root and symlinks that stay inside it', () => {
    const f = new TftpFiles(root);
    expect(f.resolve('ipxe.efi')).toMatchObject({ ok: true, name: 'ipxe.efi', virtual: false });
    expect(Buffer.from((f.resolve('sub/x.bin') as { data: Uint8Array }).data).toString()).toBe('X');
    expect(Buffer.from((f.resolve('in-link') as { data: Uint8Array }).data).toString()).toBe('EFI');
  });

  it('refuses symlinks that leave the root', () => {
    const f = new TftpFiles(root);
    expect(f.resolve('out-link')).toMatchObject({ ok: false, code: 'access-violation' });
    expect(f.resolve('out-dir/secret')).toMatchObject({ ok: false, code: 'access-violation' });
  });

  it('reports missing files and directories as not found', () => {
    const f = new TftpFiles(root);
    expect(f.resolve('nope.efi')).toMatchObject({ ok: false, code: 'not-found' });
    expect(f.resolve('sub')).toMatchObject({ ok: false, code: 'not-found' });
    expect(new TftpFiles(join(dir, 'missing')).resolve('x')).toMatchObject({ ok: false, code: 'not-found' });
  });

  it('refuses traversal before touching the filesystem', () => {
    const f = new TftpFiles(root);
    expect(f.resolve('../secret')).toMatchObject({ ok: false, code: 'access-violation' });
    expect(f.resolve('/' + join(dir, 'secret'))).toMatchObject({ ok: false, code: 'access-violation' });
  });

  it('caches a file and re-reads it when it changes', () => {
    const p = join(root, 'cached.bin');
    writeFileSync(p, 'one');
    const f = new TftpFiles(root);
    const a = f.resolve('cached.bin');
    const b = f.resolve('cached.bin');
    expect(a.ok && b.ok && a.data === b.data).toBe(true);
    expect(f.cachedFiles).toBe(1);
    writeFileSync(p, 'two!');
    const c = f.resolve('cached.bin');
    expect(c.ok && Buffer.from(c.data).toString()).toBe('two!');
    // Same size, new mtime: still noticed.
    writeFileSync(p, 'TWO!');
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    const d = f.resolve('cached.bin');
    expect(d.ok && Buffer.from(d.data).toString()).toBe('TWO!');
  });

  it('refuses files over the size limit', () => {
    writeFileSync(join(root, 'big.bin'), Buffer.alloc(100));
    expect(new TftpFiles(root, {}, { maxFileBytes: 99 }).resolve('big.bin')).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('serves the explicit table of virtual files by name only', () => {
    let calls = 0;
    const f = new TftpFiles(root, { 'boot.ipxe': () => (calls++, '#!ipxe\nchain http://x/ipxe\n') });
    const r = f.resolve('boot.ipxe');
    expect(r.ok && Buffer.from(r.data).toString()).toBe('#!ipxe\nchain http://x/ipxe\n');
    expect(r.ok && r.virtual).toBe(true);
    expect(calls).toBe(1);
    expect(f.resolve('../boot.ipxe')).toMatchObject({ ok: false, code: 'access-violation' });
    expect(f.resolve('constructor')).toMatchObject({ ok: false, code: 'not-found' });
    expect(f.resolve('toString')).toMatchObject({ ok: false, code: 'not-found' });
  });
});
