// One budget of wrong admin tokens for the whole appliance (Bearer and
// login alike): `burst` at once, refilled at `perSecond`. It is global, not
// per address, so a client cannot buy more guesses by changing its source
// address; and it is consulted only after a token was found wrong, so the
// right token is never refused however hard someone else is guessing.
export class FailureBudget {
  private left: number;
  private at: number;

  constructor(
    private readonly burst = 20,
    private readonly perSecond = 2,
    private readonly now: () => number = Date.now,
  ) {
    this.left = burst;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.left = Math.min(this.burst, this.left + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
  }

  /** True while a failure may still be answered in full (and, for a legacy hash, checked). */
  available(): boolean {
    this.refill();
    return this.left >= 1;
  }

  /** Records one wrong token; false when the budget was already spent. */
  spend(): boolean {
    if (!this.available()) return false;
    this.left -= 1;
    return true;
  }

  /** Seconds until one more failure fits. */
  retryAfterSeconds(): number {
    this.refill();
    return this.left >= 1 ? 0 : Math.ceil((1 - this.left) / this.perSecond);
  }
}
