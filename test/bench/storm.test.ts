import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { threadCpuByName, wholeBoots } from '../../bench/lib/storm.js';

/** CPU seconds of a /proc stat file (utime + stime, at 100 ticks a second). */
function cpuOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('the storm bench\'s CPU by thread name', () => {
  it('sums each name\'s threads, so CPU burnt on this thread shows under its name', () => {
    const mine = readFileSync('/proc/thread-self/comm', 'utf8').trim();
    const before = threadCpuByName(process.pid);
    expect(before.get(mine)).toBeGreaterThanOrEqual(0);
    // Burn until the kernel has charged this thread 0.3 s more, however busy the machine is.
    const start = cpuOf('/proc/thread-self/stat');
    while (cpuOf('/proc/thread-self/stat') - start < 0.3) { /* burn */ }
    const after = threadCpuByName(process.pid);
    expect(after.get(mine)! - before.get(mine)!).toBeGreaterThanOrEqual(0.29);
    // And nothing counted twice: no name holds more than the whole process has used.
    const processCpu = cpuOf('/proc/self/stat');
    for (const seconds of after.values()) expect(seconds).toBeLessThanOrEqual(processCpu + 0.02);
  });
});

describe('the storm bench\'s whole boot per machine', () => {
  it('runs from the start mark to the initramfs mark, leaves out machines that did not finish, and picks one machine by MAC', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-phases-'));
    try {
      const at = (ms: number) => String(BigInt(1_800_000_000_000) * 1_000_000n + BigInt(ms * 1e6));
      writeFileSync(join(dir, '52:54:00:80:00:00'), ['start', 'dhcp', 'tftp', 'script', 'kernel', 'initramfs'].map((p, i) => `${p} ${at(i * 20)}`).join('\n') + '\n');
      writeFileSync(join(dir, '52:54:00:80:00:01'), `start ${at(0)}\ndhcp ${at(80)}\ntftp ${at(95)}\nscript ${at(101)}\nkernel ${at(110)}\ninitramfs ${at(130)}\n`);
      writeFileSync(join(dir, '52:54:00:80:00:02'), `start ${at(0)}\ndhcp ${at(80)}\n`); // stopped after DHCP
      writeFileSync(join(dir, '52:54:00:80:00:01.ipxe'), '#!ipxe\n'); // not a machine's marks
      expect(wholeBoots(dir).map((s) => Math.round(s * 1000)).sort((a, b) => a - b)).toEqual([100, 130]);
      expect(wholeBoots(dir, '52:54:00:80:00:01').map((s) => Math.round(s * 1000))).toEqual([130]);
      expect(wholeBoots(dir, '52:54:00:80:00:02')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
