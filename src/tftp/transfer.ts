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
  /** First retransmit interval. */
  timeoutMs: number;
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

export interface Step {
  send: Uint8Array[];
  /** 'keep': leave the running timer alone; a number: (re)arm it; 'stop': clear it. */
  timer: 'keep' | 'stop' | number;
  end?: { outcome: TransferOutcome; detail: string };
}

/** Ceiling for the doubled retransmit interval. */
export const MAX_BACKOFF_MS = 8000;

const NOTHING: Step = { send: [], timer: 'keep' };

export class Transfer {
  readonly totalBlocks: number;
  private state: 'new' | 'oack' | 'data' | 'done' = 'new';
  /** Highest block the client acknowledged (0 before any DATA). */
  private acked = 0;
  /** Highest block sent in the current window. */
  private sentUpTo = 0;
  private retries = 0;
  private intervalMs: number;
  /** DATA packets sent, including retransmissions. */
  packetsSent = 0;
  retransmissions = 0;

  constructor(private readonly p: TransferParams) {
    // A final block shorter than blksize ends the transfer, so a size that is
    // an exact multiple of blksize needs an empty last block.
    this.totalBlocks = Math.floor(p.data.length / p.blksize) + 1;
    this.intervalMs = p.timeoutMs;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  /** Highest block acknowledged so far (absolute, not wrapped). */
  get ackedBlocks(): number {
    return this.acked;
  }

  start(): Step {
    if (this.state !== 'new') return NOTHING;
    if (this.p.oack) {
      this.state = 'oack';
      return { send: [this.p.oack], timer: this.intervalMs };
    }
    this.state = 'data';
    return { send: this.window(1), timer: this.intervalMs };
  }

  onAck(wireBlock: number): Step {
    if (this.state === 'oack') {
      // RFC 2347: the client accepts the OACK with ACK 0.
      if (wireBlock !== 0) return NOTHING;
      this.state = 'data';
      return this.progress(0);
    }
    if (this.state !== 'data') return NOTHING;
    const delta = (wireBlock - this.acked) & 0xffff;
    // Zero: a duplicate of what we already have. Beyond the window: a stale ACK
    // from before a rollover or from a window we already moved past.
    if (delta === 0 || this.acked + delta > this.sentUpTo) return NOTHING;
    return this.progress(this.acked + delta);
  }

  onError(code: number, message: string): Step {
    if (this.state === 'done') return NOTHING;
    const probe = this.state === 'oack' && code === 8;
    this.state = 'done';
    return {
      send: [],
      timer: 'stop',
      end: probe ? { outcome: 'probe', detail: 'size probe: OACK answered with ERROR 8' } : { outcome: 'aborted', detail: `client sent ERROR ${code} ${JSON.stringify(message)}` },
    };
  }

  /** The client's port is closed (ICMP port unreachable): it has exited. */
  onPeerGone(): Step {
    if (this.state === 'new' || this.state === 'done') return NOTHING;
    const unconfirmed = this.state === 'data' && this.sentUpTo >= this.totalBlocks;
    this.state = 'done';
    const detail = `client port closed after block ${this.acked} of ${this.totalBlocks}`;
    return { send: [], timer: 'stop', end: { outcome: unconfirmed ? 'unconfirmed' : 'aborted', detail } };
  }

  onTimeout(): Step {
    if (this.state === 'new' || this.state === 'done') return NOTHING;
    this.retries++;
    if (this.retries > this.p.maxRetries) {
      const unconfirmed = this.state === 'data' && this.sentUpTo >= this.totalBlocks;
      this.state = 'done';
      const detail = `no ACK after ${this.p.maxRetries} retransmissions (block ${this.acked + 1} of ${this.totalBlocks})`;
      return { send: [], timer: 'stop', end: { outcome: unconfirmed ? 'unconfirmed' : 'timeout', detail } };
    }
    if (!this.p.fixedTimeout) this.intervalMs = Math.min(this.intervalMs * 2, Math.max(MAX_BACKOFF_MS, this.p.timeoutMs));
    if (this.state === 'oack') return { send: [this.p.oack!], timer: this.intervalMs };
    const again = this.blocks(this.acked + 1, this.sentUpTo);
    this.retransmissions += again.length;
    return { send: again, timer: this.intervalMs };
  }

  private progress(acked: number): Step {
    this.acked = acked;
    this.retries = 0;
    this.intervalMs = this.p.timeoutMs;
    if (acked >= this.totalBlocks) {
      this.state = 'done';
      return { send: [], timer: 'stop', end: { outcome: 'complete', detail: `${this.p.data.length} bytes in ${this.totalBlocks} blocks` } };
    }
    return { send: this.window(acked + 1), timer: this.intervalMs };
  }

  private window(from: number): Uint8Array[] {
    this.sentUpTo = Math.min(from + this.p.windowsize - 1, this.totalBlocks);
    return this.blocks(from, this.sentUpTo);
  }

  private blocks(from: number, to: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let b = from; b <= to; b++) {
      const start = (b - 1) * this.p.blksize;
      out.push(encodeData(b, this.p.data.subarray(start, Math.min(start + this.p.blksize, this.p.data.length))));
    }
    this.packetsSent += out.length;
    return out;
  }
}
