// Is a file handed to `assets import` what its name says? A kernel must be
// a Linux kernel an iPXE `kernel` line can boot: an x86 bzImage (boot
// protocol header "HdrS" at 0x202) or an EFI stub (PE image: "MZ", then
// "PE\0\0" where 0x3c points; arm64 Talos kernels are such). An initramfs
// must be a compressed cpio archive the kernel can unpack: xz, zstd or gzip
// around "070701"/"070702" (newc), decompressed to its end (a truncated
// download fails there).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

function head(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** Undefined when the file is a bootable kernel image, else why not. */
export function kernelProblem(path: string): string | undefined {
  const h = head(path, 4096);
  if (h.length >= 0x206 && h.toString('latin1', 0x202, 0x206) === 'HdrS') return undefined;
  if (h.length >= 0x40 && h.toString('latin1', 0, 2) === 'MZ') {
    const pe = h.readUInt32LE(0x3c);
    if (pe + 4 <= h.length && h.toString('latin1', pe, pe + 4) === 'PE\0\0') return undefined;
  }
  return 'is not a Linux kernel: no bzImage header ("HdrS" at 0x202) and no EFI stub (PE image)';
}

type Compression = 'xz' | 'zstd' | 'gzip';

function compressionOf(h: Buffer): Compression | undefined {
  if (h.length >= 6 && h.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (h.length >= 4 && h.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (h.length >= 2 && h[0] === 0x1f && h[1] === 0x8b) return 'gzip';
  return undefined;
}

/** The first `bytes` of the decompressed stream (fewer if it is shorter); rejects unless the whole stream decompresses. */
function decompressedHead(path: string, how: Compression, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    let out: Readable;
    if (how === 'gzip') {
      const input = createReadStream(path);
      const gunzip = createGunzip();
      input.pipe(gunzip);
      out = gunzip;
      out.on('end', () => resolve(got));
    } else {
      // xz-utils and zstd are appliance packages (.ci/setup APP_PACKAGES, Dockerfile).
      const child = spawn(how, ['-dc', path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => reject(new Error(`cannot run ${how} to read it: ${err.message}`)));
      // Settled on close, not on the end of stdout: a truncated file's exit status comes last.
      child.on('close', (code, signal) => {
        if (code || signal) reject(new Error(`${how} cannot read it: ${stderr.trim().split('\n')[0] || `exit ${code}`}`));
        else resolve(got);
      });
      out = child.stdout;
    }
    // Read to the end, keeping the head: a stream cut short fails only at its end.
    out.on('data', (d: Buffer) => {
      if (got.length < bytes) got = Buffer.concat([got, d]).subarray(0, bytes);
    });
    out.on('error', (err) => reject(new Error(`${how} cannot read it: ${err.message}`)));
  });
}

/** Undefined when the file is a compressed cpio archive, else why not. */
export async function initramfsProblem(path: string): Promise<string | undefined> {
  const how = compressionOf(head(path, 8));
  if (!how) return 'is not a compressed initramfs: no xz, zstd or gzip header';
  let start: Buffer;
  try {
    start = await decompressedHead(path, how, 6);
  } catch (err) {
    return `is ${how}-compressed but does not decompress: ${(err as Error).message}`;
  }
  const magic = start.toString('latin1');
  return magic === '070701' || magic === '070702' ? undefined : `decompresses (${how}) to something other than a cpio archive (no "070701" newc header)`;
}
