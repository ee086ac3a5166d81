// A short memory of requests whose transfer has just ended, so that a late
// copy of one is dropped instead of starting the transfer again.
//
// Why: a client retransmits its RRQ while it waits for the first packet.
// The copy sits in the listening socket's queue; while the transfer runs it
// is dropped as a duplicate (server.ts, same ip:port). But when the transfer
// ends before the server reads the copy (its ACKs answered off the loop by
// the receiver thread, the daemon's default, or on any path a busy loop
// that, once it runs, handles the final ACK before the copy queued on the
// listening socket:
// test/tftp/finished-requests.test.ts holds both), the copy started a second
// transfer to a client that had its file and was gone: a held slot, then a
// timeout or an ICMP abort recorded against the machine (round 6: 71 of
// 2,071 transfers in a 1,000-client run).
//
// RFC 1350 and RFC 2347 say nothing about duplicate requests. What we chose:
// - The identity is the client's ip:port plus the request's exact bytes
//   (file, mode, options): a retransmission repeats them byte for byte. OVMF's
//   real RRQ after its size probe comes from the same port but without tsize
//   (pxe/CLIENTS.md), so it is a different request and starts its transfer.
// - Only ends where the client has what it asked for are remembered:
//   complete, unconfirmed (all sent, final ACK missing) and the size probe
//   (OACK answered). After an abort or a timeout the client did not get the
//   file, and a repeat from it is more likely a real retry: serving it is
//   what the server did before.
// - For FINISHED_MEMORY_MS after the end. A client that really asks the same
//   thing again from the same port that soon (tftp-hpa's interactive `get`
//   twice) is not answered and gets its file at its next retransmission
//   (tftp-hpa: 5 s), which is past the memory. No ERROR is sent: the copy
//   may come from a client that has exited.
// - Bounded (forged sources are cheap): the oldest entries go first.

/** How long a finished request is remembered. */
export const FINISHED_MEMORY_MS = 3000;

export class FinishedRequests {
  /** `ip:port` NUL request bytes → when it is forgotten; Map order is expiry order (one constant memory). */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly memoryMs = FINISHED_MEMORY_MS,
    private readonly maxEntries = 4096,
    private readonly now: () => number = () => performance.now(),
  ) {}

  remember(client: string, request: string): void {
    const now = this.now();
    this.forgetExpired(now);
    const key = `${client}\0${request}`;
    this.until.delete(key);
    if (this.until.size >= this.maxEntries) this.until.delete(this.until.keys().next().value!);
    this.until.set(key, now + this.memoryMs);
  }

  /** Whether this request from this client is a copy of one that just finished. */
  justFinished(client: string, request: string): boolean {
    if (this.until.size === 0) return false;
    const now = this.now();
    this.forgetExpired(now);
    return this.until.has(`${client}\0${request}`);
  }

  get size(): number {
    return this.until.size;
  }

  private forgetExpired(now: number): void {
    for (const [key, until] of this.until) {
      if (until > now) break;
      this.until.delete(key);
    }
  }
}
