// Unary and server-streaming calls with a deadline per attempt, retries with
// exponential backoff on transient statuses, and cancellation of everything
// in flight when the owner closes. Every Talos reply is
// `{ repeated X messages = 1 }` with `X.metadata.error` set when the request
// failed on that node: that is checked here, once, for every call.
import * as grpc from '@grpc/grpc-js';
import { ClientClosedError, TalosCallError, TalosNodeError } from './errors.js';

export interface RetryPolicy {
  /** Per-attempt deadline. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_POLICY: RetryPolicy = { timeoutMs: 10_000, retries: 3, backoffMs: 250, maxBackoffMs: 5_000 };

/**
 * Statuses that say "try again later", not "no". CANCELLED is here because a
 * server torn down mid-call (apid restarting, the node rebooting) resets the
 * stream with CANCEL; our own cancellations never reach the retry check,
 * which looks at `closed` first.
 */
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED, grpc.status.CANCELLED]);

interface Metadata { hostname?: string; error?: string; status?: { code?: number; message?: string } | null }
export interface Reply<T> { messages: (T & { metadata?: Metadata | null })[] }

export function checkMetadata(method: string, metadata: Metadata | null | undefined): void {
  if (metadata?.error) throw new TalosNodeError(method, metadata.hostname ?? '', metadata.error, metadata.status?.code);
}

function toCallError(method: string, err: unknown): Error {
  const e = err as grpc.ServiceError;
  if (typeof e?.code === 'number') return new TalosCallError(method, e.code, e.details ?? e.message);
  return err as Error;
}

type Fn = (...args: never[]) => unknown;

export class CallRunner {
  private readonly active = new Set<grpc.Call>();
  private readonly sleeps = new Set<() => void>();
  private closed = false;

  constructor(private readonly policy: RetryPolicy) {}

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const call of this.active) call.cancel();
    for (const wake of this.sleeps) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => (clearTimeout(t), this.sleeps.delete(wake), resolve());
      const t = setTimeout(wake, ms);
      this.sleeps.add(wake);
    });
  }

  private async withRetries<R>(method: string, attempt: () => Promise<R>, retry = true): Promise<R> {
    let delay = this.policy.backoffMs;
    for (let n = 0; ; n++) {
      if (this.closed) throw new ClientClosedError(`${method}: client closed`);
      try {
        return await attempt();
      } catch (err) {
        if (this.closed) throw new ClientClosedError(`${method}: client closed`);
        const transient = err instanceof TalosCallError && TRANSIENT.has(err.code);
        if (!retry || !transient || n >= this.policy.retries) throw err;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.policy.maxBackoffMs);
      }
    }
  }

  unary<Req, T>(client: grpc.Client, method: string, req: Req, opts: { retry?: boolean } = {}): Promise<T[]> {
    const fn = (client as unknown as Record<string, Fn>)[method]!.bind(client) as unknown as (
      r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Reply<T>) => void,
    ) => grpc.ClientUnaryCall;
    return this.withRetries(method, () => new Promise<T[]>((resolve, reject) => {
      const call = fn(req, new grpc.Metadata(), { deadline: Date.now() + this.policy.timeoutMs }, (err, res) => {
        this.active.delete(call);
        if (err) return reject(toCallError(method, err));
        try {
          const messages = res?.messages ?? [];
          for (const m of messages) checkMetadata(method, m.metadata);
          resolve(messages);
        } catch (e) {
          reject(e);
        }
      });
      this.active.add(call);
    }), opts.retry ?? true);
  }

  /** Collects every message of a server stream (COSI List); a broken stream is retried from the start. */
  streamMessages<Req, T>(client: grpc.Client, method: string, req: Req): Promise<T[]> {
    return this.collectStream<Req, T, T[]>(client, method, req, this.policy.timeoutMs, () => {
      const out: T[] = [];
      return { add: (m) => void out.push(m), result: () => out };
    });
  }

  /** Collects a server stream of common.Data into one buffer; a broken stream is retried from the start. */
  streamBytes<Req>(client: grpc.Client, method: string, req: Req, opts: { timeoutMs?: number } = {}): Promise<Buffer> {
    return this.collectStream<Req, { metadata?: Metadata; bytes?: Buffer }, Buffer>(client, method, req, opts.timeoutMs ?? this.policy.timeoutMs, () => {
      const chunks: Buffer[] = [];
      return {
        add: (d) => {
          checkMetadata(method, d.metadata);
          if (d.bytes?.length) chunks.push(Buffer.from(d.bytes));
        },
        result: () => Buffer.concat(chunks),
      };
    });
  }

  /**
   * One server stream read to its end, retried from the start when it breaks.
   * `attempt()` gives each try a fresh collector; a message its `add` throws
   * on cancels the call and fails it with that error.
   */
  private collectStream<Req, M, R>(
    client: grpc.Client, method: string, req: Req, timeoutMs: number,
    attempt: () => { add: (m: M) => void; result: () => R },
  ): Promise<R> {
    const fn = (client as unknown as Record<string, Fn>)[method]!.bind(client) as unknown as (
      r: Req, md: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<M>;
    return this.withRetries(method, () => new Promise<R>((resolve, reject) => {
      const collector = attempt();
      const call = fn(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
      this.active.add(call);
      let failed = false;
      call.on('data', (m: M) => {
        if (failed) return;
        try {
          collector.add(m);
        } catch (e) {
          failed = true;
          call.cancel();
          reject(e);
        }
      });
      call.on('error', (err) => {
        this.active.delete(call);
        if (!failed) reject(toCallError(method, err));
        failed = true;
      });
      call.on('status', (s: grpc.StatusObject) => {
        this.active.delete(call);
        if (s.code === grpc.status.OK && !failed) resolve(collector.result());
      });
    }));
  }
}
