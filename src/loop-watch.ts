// How long the event loop was held, process-wide: DHCP, TFTP and HTTP all
// wait on it, so a stall anywhere (a reload, a large query) shows here. A
// libuv timer samples the delay; once a second the window's worst is kept
// (the last ten windows feed /metrics) and a stall past STALL_MS is logged
// once, with its length, so an operator sees it in the journal.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from './log.js';

export const STALL_MS = 50;
const WINDOWS = 10;
const WINDOW_MS = 1000;

export interface LoopStats {
  /** The longest delay seen in the last ten seconds, in seconds. */
  maxDelay10s: number;
  /** One-second windows, since start, whose longest delay passed STALL_MS. */
  stalls: number;
  /** User + system CPU time of the process, in seconds. */
  cpuSeconds: number;
}

let users = 0;
let histogram: IntervalHistogram | undefined;
let timer: NodeJS.Timeout | undefined;
let recent: number[] = [];
let stalls = 0;
let logger: Logger | undefined;

function closeWindow(): void {
  if (!histogram) return;
  const maxMs = histogram.count > 0 ? histogram.max / 1e6 : 0;
  histogram.reset();
  recent.push(maxMs);
  if (recent.length > WINDOWS) recent.shift();
  if (maxMs > STALL_MS) {
    stalls++;
    logger?.warn({ blockedMs: Math.round(maxMs) }, `the event loop was held for ${Math.round(maxMs)} ms (DHCP, TFTP and HTTP waited)`);
  }
}

/** Starts watching (once per process; later callers share it). Returns the stop for this caller. */
export function watchEventLoop(log: Logger): () => void {
  logger ??= log;
  if (users++ === 0) {
    histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    timer = setInterval(closeWindow, WINDOW_MS);
    timer.unref();
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    if (--users > 0) return;
    clearInterval(timer);
    histogram?.disable();
    histogram = undefined;
    logger = undefined;
    recent = [];
  };
}

export function loopStats(): LoopStats {
  const cpu = process.cpuUsage();
  const current = histogram && histogram.count > 0 ? histogram.max / 1e6 : 0;
  return { maxDelay10s: Math.max(current, ...recent) / 1000, stalls, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}
