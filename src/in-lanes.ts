// Work with at most a few pieces of it under way at once: BMC power
// requests (bmc/operate.ts), the health pass's probes (talos/health.ts),
// noticing installs (talos/orchestrator.ts) and first contact's TLS talks
// (talos/first-contact.ts) each open a connection per node, and a rack of
// thousands must not open thousands at once.

/** Results in the items' order; each lane takes the next item as soon as its previous one ends. */
export async function inLanes<T, R>(items: readonly T[], lanes: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const gate = new Lanes(lanes);
  return Promise.all(items.map((item) => gate.run(() => work(item))));
}

/** At most `size` callers inside `run` at once, the rest waiting their turn in order: for work that starts at different times. */
export class Lanes {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    // Fewer than one lane would leave every caller waiting for ever.
    this.free = Math.max(1, Math.floor(size));
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The lane passes straight to the next waiter, so a caller arriving meanwhile cannot take it out of turn.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
