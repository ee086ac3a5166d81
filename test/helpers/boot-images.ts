// Stand-ins for Talos boot assets that pass `assets import`'s checks: a
// "kernel" with the x86 boot protocol's "HdrS" at 0x202, an arm64-style
// EFI stub ("MZ", PE header where 0x3c points), and an initramfs that is a
// real newc cpio archive, xz-compressed (cpio and xz-utils are test packages).
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function bzImage(size: number): Buffer {
  const b = randomBytes(size);
  b.write('HdrS', 0x202, 'latin1');
  return b;
}

export function efiStub(size: number): Buffer {
  const b = randomBytes(size);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.write('AAAA', 0x202, 'latin1'); // not a bzImage too
  return b;
}

/** A newc cpio archive holding one file of `payload` random bytes, compressed with `compress` (xz -c by default). */
export function cpioInitramfs(payload: number, compress: string[] = ['xz', '-0', '-c']): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rb-initramfs-'));
  try {
    writeFileSync(join(dir, 'init'), randomBytes(payload));
    const cpio = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: dir, input: 'init\n', maxBuffer: 64 * 1024 * 1024 });
    return execFileSync(compress[0]!, compress.slice(1), { input: cpio, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
