// What `lab up` shows while it waits: on a terminal one live line (what it
// waits for, for how long, and the nodes per state once the appliance
// answers), redrawn by a timer; otherwise a plain line whenever that
// changes. The drawing is the download progress's (src/factory/progress.ts).
import { waitReporter, type ProgressSink } from '../factory/progress.js';

/** Nodes per state as the appliance reports them; undefined when it did not answer. */
export type CountsSource = () => Promise<Record<string, number> | undefined>;

export class LabUpProgress {
  private readonly reporter: ReturnType<typeof waitReporter>;
  private timer: NodeJS.Timeout | undefined;
  private what: string | undefined;
  private counts: Record<string, number> | undefined;
  private source: CountsSource | undefined;
  private asking = false;
  private lastAsked = Number.NEGATIVE_INFINITY;

  constructor(sink: ProgressSink, private readonly opts: { tickMs?: number; countsEveryMs?: number; now?: () => number } = {}) {
    this.reporter = waitReporter(sink, opts.now);
  }

  waiting(what: string): void {
    this.what = what;
    this.reporter.set({ what, counts: this.counts });
    this.timer ??= setInterval(() => this.tick(), this.opts.tickMs ?? 250);
    this.timer.unref();
  }

  /** From now on the line carries the nodes per state, asked at most once a second and one request at a time. */
  countFrom(source: CountsSource): void {
    this.source = source;
  }

  /** Ends the live line (and writes `line` in its place). */
  finish(line?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.source = undefined;
    if (this.what !== undefined) this.reporter.done(line);
    this.what = undefined;
  }

  private tick(): void {
    this.reporter.tick();
    const now = (this.opts.now ?? Date.now)();
    if (!this.source || this.asking || now - this.lastAsked < (this.opts.countsEveryMs ?? 1000)) return;
    this.asking = true;
    this.lastAsked = now;
    const source = this.source;
    source().then((counts) => {
      if (!counts || this.what === undefined || this.source !== source) return;
      this.counts = counts;
      this.reporter.set({ what: this.what, counts });
    }, () => { /* the next tick asks again */ }).finally(() => (this.asking = false));
  }
}
