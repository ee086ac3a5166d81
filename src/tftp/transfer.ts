// One read transfer as a pure state machine: packets and timer expiries go
// in, packets to send and what to do with the single retransmit timer come
// out. No sockets and no clocks here, so tests drive loss, duplicates and
// rollover exactly.
//
// Sending follows RFC 7440: a window of `windowsize` DATA blocks, then wait
// for the ACK of the window's last block. An ACK for an earlier block of the
// window means the client saw a gap: we continue from the block after it.
// RFC 1350 with windowsize 1 is the same machine. A duplicate ACK never
// causes a retransmission (RFC 1123 §4.2.3.1, "Sorcerer's Apprentice").
//
// The retransmit interval adapts to the measured round trip (RFC 1123
// §4.2.3.2 asks for an adaptive timeout) when the caller passes the time and
// a floor: a packet lost on a busy link then costs a few hundred ms, not the
// fixed first interval (1 s) and its doubling. Round trips are estimated as
// TCP does (RFC 6298), and a window that was retransmitted gives no sample
// (Karn), since its ACK cannot be matched to one of the sends.
//
// Block numbers are kept as absolute counts and only taken modulo 65536 on
// the wire, so files longer than 65535 blocks roll over to block 0.

import { encodeData } from './codec.js';

export interface TransferParams {
  /** The whole file as it goes on the wire (already netascii-converted if asked). */
  data: Uint8Array;
  blksize: number;
  windowsize: number;
  /** The encoded OACK to send first, when options were accepted. */
  oack?: Uint8Array;
  /** First retransmit interval, and the ceiling of the adapted one. */
  timeoutMs: number;
  /**
   * Floor of the adapted interval. Unset (or with fixedTimeout): no
   * adaptation, every window starts from timeoutMs.
   */
  minTimeoutMs?: number;
  /** True when the client set the interval (RFC 2349 timeout): keep it, no backoff. */
  fixedTimeout: boolean;
  /** Give up after this many consecutive timeouts without progress. */
  maxRetries: number;
}

export type TransferOutcome =
  /** The last block was acknowledged. */
  | 'complete'
  /** OACK answered with ERROR 8: the client only wanted tsize (OVMF does this). */
  | 'probe'
  /** The client sent an ERROR. */
  | 'aborted'
  /** No progress after maxRetries retransmissions. */
  | 'timeout'
  /**
   * Every block was sent but the last ACK never came. The client may well
   * have the whole file: it sends the final ACK once and may exit
   * (RFC 1350 §6), so that ACK's loss is indistinguishable from a dead client.
   */
  | 'unconfirmed';

/** DATA blocks `from`..`to` (absolute numbers, 1-based), to be sent in order. */
export interface BlockRange { from: number; to: number }

/**
 * What to send says which blocks, not their bytes: the socket shell sends a
 * window straight from the file buffer (one batched call where the native
 * addon is built), or encodes it with packets().
 */
export interface Step {
  /** The OACK, (re)sent. */
  oack?: Uint8Array;
  blocks?: BlockRange;
  /** The blocks were sent before: their ACK gives no round-trip sample (Karn). */
  retransmit?: true;
  /** 'keep': leave the running timer alone; a number: (re)arm it; 'stop': clear it. */
  timer: 'keep' | 'stop' | number;
  end?: { outcome: TransferOutcome; detail: string };
}

/** Ceiling for the doubled retransmit interval. */
export const MAX_BACKOFF_MS = 8000;

const NOTHING: Step = { timer: 'keep' };

export class Transfer {
  readonly totalBlocks: number;
  private state: 'new' | 'oack' | 'data' | 'done' = 'new';
  /** Highest block the client acknowledged (0 before any DATA). */
  private acked = 0;
  /** Highest block sent in the current window. */
  private sentUpTo = 0;
  private retries = 0;
  private intervalMs: number;
  /** Interval each new window starts from: timeoutMs, or the adapted one. */
  private baseMs: number;
  /** When the unacknowledged window (or OACK) was first sent; unset once it was retransmitted. */
  private sentAt: number | undefined;
  private srtt: number | undefined;
  private rttvar = 0;
  /** DATA packets sent, including retransmissions. */
  packetsSent = 0;
  retransmissions = 0;

  constructor(private readonly p: TransferParams) {
    // A final block shorter than blksize ends the transfer, so a size that is
    // an exact multiple of blksize needs an empty last block.
    this.totalBlocks = Math.floor(p.data.length / p.blksize) + 1;
    this.intervalMs = p.timeoutMs;
    this.baseMs = p.timeoutMs;
  }

  /** The bytes on the wire, and the block size they are cut in. */
  get data(): Uint8Array {
    return this.p.data;
  }

  get blksize(): number {
    return this.p.blksize;
  }

  get windowsize(): number {
    return this.p.windowsize;
  }

  /** The interval a new window starts from now (ms). */
  get retransmitMs(): number {
    return this.baseMs;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  /** Highest block acknowledged so far (absolute, not wrapped). */
  get ackedBlocks(): number {
    return this.acked;
  }

  /** `now` (ms, any monotonic clock) lets the interval adapt; see minTimeoutMs. */
  start(now?: number): Step {
    if (this.state !== 'new') return NOTHING;
    this.sentAt = now;
    if (this.p.oack) {
      this.state = 'oack';
      return { oack: this.p.oack, timer: this.intervalMs };
    }
    this.state = 'data';
    return { blocks: this.window(1), timer: this.intervalMs };
  }

  onAck(wireBlock: number, now?: number): Step {
    if (this.state === 'oack') {
      // RFC 2347: the client accepts the OACK with ACK 0.
      if (wireBlock !== 0) return NOTHING;
      this.state = 'data';
      this.sample(now);
      return this.progress(0, now);
    }
    if (this.state !== 'data') return NOTHING;
    const delta = (wireBlock - this.acked) & 0xffff;
    // Zero: a duplicate of what we already have. Beyond the window: a stale ACK
    // from before a rollover or from a window we already moved past.
    if (delta === 0 || this.acked + delta > this.sentUpTo) return NOTHING;
    this.sample(now);
    return this.progress(this.acked + delta, now);
  }

  onError(code: number, message: string): Step {
    if (this.state === 'done') return NOTHING;
    const probe = this.state === 'oack' && code === 8;
    this.state = 'done';
    return {
      timer: 'stop',
      end: probe ? { outcome: 'probe', detail: 'size probe: OACK answered with ERROR 8' } : { outcome: 'aborted', detail: `client sent ERROR ${code} ${JSON.stringify(message)}` },
    };
  }

  /** The client's port is closed (ICMP port unreachable): it has exited. */
  onPeerGone(): Step {
    if (this.state === 'new' || this.state === 'done') return NOTHING;
    return this.left(`client port closed after block ${this.acked} of ${this.totalBlocks}`);
  }

  /** The client sent another request from this transfer's port: it has moved on from this one. */
  onSuperseded(): Step {
    if (this.state === 'done') return NOTHING;
    return this.left(`client sent a new request from the same port after block ${this.acked} of ${this.totalBlocks}`);
  }

  /** The client left: unconfirmed when every block was sent (it may have the file), else aborted. */
  private left(detail: string): Step {
    const unconfirmed = this.state === 'data' && this.sentUpTo >= this.totalBlocks;
    this.state = 'done';
    return { timer: 'stop', end: { outcome: unconfirmed ? 'unconfirmed' : 'aborted', detail } };
  }

  onTimeout(): Step {
    if (this.state === 'new' || this.state === 'done') return NOTHING;
    this.retries++;
    if (this.retries > this.p.maxRetries) {
      const unconfirmed = this.state === 'data' && this.sentUpTo >= this.totalBlocks;
      this.state = 'done';
      const detail = `no ACK after ${this.p.maxRetries} retransmissions (block ${this.acked + 1} of ${this.totalBlocks})`;
      return { timer: 'stop', end: { outcome: unconfirmed ? 'unconfirmed' : 'timeout', detail } };
    }
    // Karn: the ACK that ends this window may answer either send.
    this.sentAt = undefined;
    if (!this.p.fixedTimeout) this.intervalMs = Math.min(this.intervalMs * 2, Math.max(MAX_BACKOFF_MS, this.p.timeoutMs));
    if (this.state === 'oack') return { oack: this.p.oack!, timer: this.intervalMs };
    const again = this.range(this.acked + 1, this.sentUpTo);
    this.retransmissions += again.to - again.from + 1;
    return { blocks: again, retransmit: true, timer: this.intervalMs };
  }

  /**
   * Windows an I/O fast path moved on without us (the native ACK receiver,
   * src/tftp/ack-fast-path.ts): each was the ACK of its window's last block
   * while more was left, answered with the next window, as onAck would have.
   * `acked` is the last of those ACKs, `packets` the DATA packets sent,
   * `rttMs` the round trips it measured (from first sends only), and
   * `windowAgeMs` how long ago the window now out was sent.
   */
  advance(acked: number, packets: number, rttMs: readonly number[], now?: number, windowAgeMs = 0): void {
    if (this.state !== 'data' || acked <= this.acked || acked >= this.totalBlocks) return;
    for (const r of rttMs) this.sampleMs(r);
    this.packetsSent += packets;
    this.acked = acked;
    this.retries = 0;
    this.intervalMs = this.baseMs;
    this.sentAt = now === undefined ? undefined : now - windowAgeMs;
    this.sentUpTo = Math.min(acked + this.p.windowsize, this.totalBlocks);
  }

  /** One round-trip sample, from the first send of the window just acknowledged. */
  private sample(now: number | undefined): void {
    if (now !== undefined && this.sentAt !== undefined) this.sampleMs(now - this.sentAt);
  }

  private sampleMs(ms: number): void {
    const floor = this.p.minTimeoutMs;
    if (floor === undefined || this.p.fixedTimeout) return;
    const r = Math.max(0, ms);
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    // Whole 10 ms steps: the server re-arms its timer in place while the value stays put.
    const rto = Math.ceil((this.srtt + 4 * this.rttvar) / 10) * 10;
    this.baseMs = Math.min(this.p.timeoutMs, Math.max(floor, rto));
  }

  private progress(acked: number, now?: number): Step {
    this.acked = acked;
    this.retries = 0;
    this.intervalMs = this.baseMs;
    this.sentAt = now;
    if (acked >= this.totalBlocks) {
      this.state = 'done';
      return { timer: 'stop', end: { outcome: 'complete', detail: `${this.p.data.length} bytes in ${this.totalBlocks} blocks` } };
    }
    return { blocks: this.window(acked + 1), timer: this.intervalMs };
  }

  private window(from: number): BlockRange {
    this.sentUpTo = Math.min(from + this.p.windowsize - 1, this.totalBlocks);
    return this.range(from, this.sentUpTo);
  }

  private range(from: number, to: number): BlockRange {
    this.packetsSent += to - from + 1;
    return { from, to };
  }

  /** Payload bytes of the given blocks (what a DATA counter adds). */
  payloadBytes(r: BlockRange): number {
    const { blksize, data } = this.p;
    return Math.max(0, Math.min(r.to * blksize, data.length) - (r.from - 1) * blksize);
  }

  /** The step's packets as bytes, OACK first: for sockets that send one datagram per call. */
  packets(step: Step): Uint8Array[] {
    const out: Uint8Array[] = step.oack ? [step.oack] : [];
    const r = step.blocks;
    if (!r) return out;
    const { blksize, data } = this.p;
    for (let b = r.from; b <= r.to; b++) {
      const start = (b - 1) * blksize;
      out.push(encodeData(b, data.subarray(start, Math.min(start + blksize, data.length))));
    }
    return out;
  }
}
