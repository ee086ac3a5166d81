// A failure that repeats with every packet (a store refusing writes) is said
// once, then at most once per interval with what piled up since: the log
// stays readable, and nothing that was lost goes uncounted.

export class LogTally<Counts extends Record<string, number>> {
  private saidAt = -Infinity;
  private since: Counts;

  constructor(
    private readonly zero: () => Counts,
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.since = zero();
  }

  /** Adds `counts`; returns the totals since they were last said when it is time to say them again, else undefined. */
  add(counts: Counts): Counts | undefined {
    const since = this.since as Record<string, number>;
    for (const [k, v] of Object.entries(counts)) since[k] = (since[k] ?? 0) + v;
    const at = this.now();
    if (at - this.saidAt < this.everyMs) return undefined;
    const said = this.since;
    this.saidAt = at;
    this.since = this.zero();
    return said;
  }
}
