// The event-loop watch: a stall is logged once with its length, counted, and
// shows as the last ten seconds' longest delay; CPU time is reported.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loopStats, watchEventLoop } from '../src/loop-watch.js';

function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a stall on purpose */ }
}

describe('event-loop watch', () => {
  it('logs a 120 ms stall once with its length, counts it, and reports it as the recent maximum', async () => {
    const lines: Array<{ msg: string; blockedMs?: number }> = [];
    const stop = watchEventLoop(pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }));
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const before = loopStats();
      setTimeout(() => hold(120), 50);
      await new Promise((r) => setTimeout(r, 2200));
      const after = loopStats();
      expect(after.stalls - before.stalls).toBe(1);
      expect(after.maxDelay10s).toBeGreaterThanOrEqual(0.11);
      // A busy wait on a shared 2-core box is descheduled for part of its wall-clock time.
      expect(after.cpuSeconds).toBeGreaterThan(before.cpuSeconds + 0.02);
      const stalls = lines.filter((l) => l.blockedMs !== undefined);
      expect(stalls).toHaveLength(1);
      expect(stalls[0]!.blockedMs).toBeGreaterThanOrEqual(110);
      expect(stalls[0]!.msg).toMatch(/event loop was held for \d+ ms/);
    } finally {
      stop();
    }
  });
});
