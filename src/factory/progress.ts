// Download progress for people: a redrawn bar on a terminal, and plain
// lines (every 10%) when the output is a log or a pipe.

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

/** Returns a progress callback for one file, plus done() to finish its line. */
export function progressReporter(sink: ProgressSink, name: string, now = Date.now): { update(p: ProgressEvent): void; done(): void } {
  let lastDraw = Number.NEGATIVE_INFINITY;
  let lastStep = -1;
  let last: ProgressEvent | undefined;
  return {
    update(p) {
      if (!last && p.resumedFrom > 0) {
        const msg = `${name}: resuming at ${mib(p.resumedFrom)} MiB`;
        if (sink.isTTY) sink.write(`${msg}\n`); else sink.write(msg);
      }
      last = p;
      if (sink.isTTY) {
        const t = now();
        if (t - lastDraw < 100 && p.received !== p.total) return; // at most ten redraws a second
        lastDraw = t;
        sink.write(`\r${progressBar(name, p)}`);
        return;
      }
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
