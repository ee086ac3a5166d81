// What one durable lease costs this machine's disk, apart from any server:
// the fdatasync that `leaseDurability: power` puts before each ACK, timed
// on a commit shaped like rackboot's (a few WAL frames, each a 24-byte
// header and a 4 KiB page, overwriting a file that already has its blocks,
// as a WAL does once it has started over), on the filesystem the bench's
// servers write to.
//
// Back to back and after an idle gap: on the round-13 VM an fdatasync
// issued after 5 ms of nothing (one exchange at 200/s) took about three
// times as long as one right after another (scratch probe 2026-12-05:
// p50 0.35 against 0.11 ms), and inside the daemon at 200/s perf trace
// saw 0.45-0.6 ms. The DHCP rows with `power` carry that; this says how
// much of it is the machine.
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FRAME_HEADER = Buffer.alloc(24, 1);
const PAGE = Buffer.alloc(4096, 2);
const FRAME = FRAME_HEADER.length + PAGE.length;

export interface SyncLatency { p50: number; p99: number; count: number }

/**
 * `count` commits of `frames` WAL frames, each followed by an fdatasync,
 * with `gapMs` of idle (a blocking wait, nothing else running in this
 * thread) before each; the sync's own time, in ms.
 */
export function syncLatency(dir: string, opts: { gapMs: number; count?: number; frames?: number }): SyncLatency {
  const count = opts.count ?? 400;
  const frames = opts.frames ?? 4;
  const file = join(dir, 'disk-sync.probe');
  const fd = openSync(file, 'w+');
  const idle = new Int32Array(new SharedArrayBuffer(4));
  try {
    const span = 256 * FRAME * frames;
    const fill = Buffer.alloc(span, 3);
    writeSync(fd, fill, 0, span, 0);
    fdatasyncSync(fd);
    const took: number[] = [];
    let at = 32; // past a WAL header's place
    for (let i = 0; i < count; i++) {
      if (opts.gapMs > 0) Atomics.wait(idle, 0, 0, opts.gapMs);
      if (at + frames * FRAME > span) at = 32;
      for (let f = 0; f < frames; f++, at += FRAME) {
        writeSync(fd, FRAME_HEADER, 0, FRAME_HEADER.length, at);
        writeSync(fd, PAGE, 0, PAGE.length, at + FRAME_HEADER.length);
      }
      const t0 = performance.now();
      fdatasyncSync(fd);
      took.push(performance.now() - t0);
    }
    took.sort((a, b) => a - b);
    return { p50: took[Math.floor(count * 0.5)]!, p99: took[Math.floor(count * 0.99)]!, count };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}
