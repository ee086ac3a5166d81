// Progress for people: a redrawn line on a terminal (a download's bar, or
// what a long start-up waits for), and plain lines when the output is a log,
// a pipe or CI.

export interface ProgressSink {
  isTTY: boolean;
  /** Writes raw text (TTY) or one line (not a TTY). */
  write(text: string): void;
}

export interface ProgressEvent { received: number; total: number | undefined; resumedFrom: number }

const MiB = 1024 * 1024;
const mib = (n: number) => (n / MiB).toFixed(1);

export function progressBar(name: string, p: ProgressEvent, width = 30): string {
  if (!p.total) return `${name} ${mib(p.received)} MiB`;
  const frac = Math.min(1, p.received / p.total);
  const filled = Math.round(frac * width);
  return `${name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${mib(p.received)}/${mib(p.total)} MiB`;
}

/** Where a CLI command's progress goes: stderr, redrawn only on a terminal outside CI. */
export function cliProgressSink(errLine: (line: string) => void, stream: { isTTY?: boolean; write(t: string): unknown } = process.stderr, env: NodeJS.ProcessEnv = process.env): ProgressSink {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
  return stream.isTTY && !ci ? { isTTY: true, write: (t) => void stream.write(t) } : { isTTY: false, write: errLine };
}

/** Redraws one terminal line: at most ten times a second unless forced. */
function redrawer(sink: ProgressSink, now: () => number): (text: string, force?: boolean) => void {
  let lastDraw = Number.NEGATIVE_INFINITY;
  return (text, force = false) => {
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    sink.write(`\r${text}`);
  };
}

/** Returns a progress callback for one file, plus done() to finish its line. */
export function progressReporter(sink: ProgressSink, name: string, now = Date.now): { update(p: ProgressEvent): void; done(): void } {
  const draw = redrawer(sink, now);
  let lastStep = -1;
  let last: ProgressEvent | undefined;
  return {
    update(p) {
      if (!last && p.resumedFrom > 0) {
        const msg = `${name}: resuming at ${mib(p.resumedFrom)} MiB`;
        if (sink.isTTY) sink.write(`${msg}\n`); else sink.write(msg);
      }
      last = p;
      if (sink.isTTY) return draw(progressBar(name, p), p.received === p.total);
      const step = p.total ? Math.floor((p.received / p.total) * 10) : Math.floor(p.received / (16 * MiB));
      if (step === lastStep) return;
      lastStep = step;
      sink.write(p.total ? `${name}: ${step * 10}% (${mib(p.received)}/${mib(p.total)} MiB)` : `${name}: ${mib(p.received)} MiB`);
    },
    done() {
      if (sink.isTTY && last) sink.write(`\r${progressBar(name, last)}\n`);
    },
  };
}

/** What a start-up waits for, and the nodes per state once there is an appliance to ask. */
export interface WaitState { what: string; counts?: Record<string, number> }

const countsText = (counts: Record<string, number> | undefined) => {
  const parts = Object.entries(counts ?? {}).filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`);
  return parts.length ? `; nodes: ${parts.join(', ')}` : '';
};

export function waitLine(s: WaitState, elapsedMs: number): string {
  return `waiting for ${s.what}: ${Math.floor(elapsedMs / 1000)} s${countsText(s.counts)}`;
}

/**
 * On a terminal one line, redrawn as the wait goes on (tick() from a timer
 * moves its clock); otherwise a plain line each time what it waits for or
 * the node counts change, never one per tick. Elapsed counts from the start
 * of the current wait.
 */
export function waitReporter(sink: ProgressSink, now = Date.now): { set(s: WaitState): void; tick(): void; done(line?: string): void } {
  const draw = redrawer(sink, now);
  let current: WaitState | undefined;
  let since = 0;
  let lastPlain = '';
  const text = () => `\x1b[K${waitLine(current!, now() - since)}`;
  return {
    set(s) {
      const changed = s.what !== current?.what;
      if (changed) since = now();
      current = s;
      if (sink.isTTY) return draw(text(), true);
      const key = `${s.what}${countsText(s.counts)}`;
      if (key === lastPlain) return;
      lastPlain = key;
      sink.write(waitLine(s, now() - since));
    },
    tick() {
      if (sink.isTTY && current) draw(text());
    },
    done(line) {
      if (sink.isTTY && current) sink.write(`\r\x1b[K${line !== undefined ? `${line}\n` : ''}`);
      else if (line !== undefined) sink.write(line);
      current = undefined;
      lastPlain = '';
    },
  };
}
