import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { threadCpuByName } from '../../bench/lib/storm.js';

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
