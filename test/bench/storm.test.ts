import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { threadCpuByName } from '../../bench/lib/storm.js';

describe('the storm bench\'s CPU by thread name', () => {
  it('sums each name\'s threads, so CPU burnt on this thread shows under its name', () => {
    const mine = readFileSync('/proc/thread-self/comm', 'utf8').trim();
    const before = threadCpuByName(process.pid);
    expect(before.get(mine)).toBeGreaterThanOrEqual(0);
    // 300 ms of CPU on this thread; the clock ticks at 100 Hz, so at least 0.2 s must show.
    const until = performance.now() + 300;
    while (performance.now() < until) { /* burn */ }
    const after = threadCpuByName(process.pid);
    expect(after.get(mine)! - before.get(mine)!).toBeGreaterThanOrEqual(0.2);
    // And nothing counted twice: no name holds more than the whole process has used.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const processCpu = (Number(fields[11]) + Number(fields[12])) / 100;
    for (const seconds of after.values()) expect(seconds).toBeLessThanOrEqual(processCpu + 0.02);
  });
});
