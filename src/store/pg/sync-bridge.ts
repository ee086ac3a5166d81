// A synchronous PostgreSQL session for synchronous callers (the Store
// interface: the DHCP handler and the state machine decide inside one call).
// A worker thread owns one `pg.Client`; each query is posted to it and the
// calling thread sleeps in Atomics.wait on a shared flag until the worker has
// posted the reply, which is then taken off the port with
// receiveMessageOnPort (the technique of synckit and make-synchronous, in a
// few lines of our own). One client means one server session: BEGIN … COMMIT
// issued through `query` are one transaction.
//
// The worker's code is a string evaluated in the thread, so the same file
// works from src/ under vitest and from dist/; it loads `pg` by the path this
// module resolves.
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type pg from 'pg';
import { StoreUnavailableError } from '../errors.js';
import { PgError } from './psql-session.js';

/** How long one query may take (a row lock another appliance holds, a slow server) before the session is given up. */
export const SYNC_QUERY_TIMEOUT_MS = 30_000;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port, flag, config } = workerData;
const reply = (m) => { port.postMessage(m); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); };
const fail = (e) => ({ error: { message: String(e && e.message || e), code: (e && e.severity && e.code) || '' } });
const ended = (e) => ({ error: { message: String(e && e.message || e), code: 'session' } });
let broken = null;
let client = null;
let connected = Promise.resolve();
try {
  const pg = require(workerData.pgPath);
  const int8 = (v) => { const n = Number(v); return Number.isSafeInteger(n) ? n : v; };
  client = new pg.Client({ ...config, types: { getTypeParser: (oid, f) => oid === 20 && f !== 'binary' ? int8 : pg.types.getTypeParser(oid, f) } });
  client.on('error', (e) => { broken = broken || e; });
  client.on('end', () => { broken = broken || new Error('connection closed'); });
  connected = client.connect().then(() => null, (e) => { broken = broken || e; });
} catch (e) { broken = e; }
port.on('message', async (m) => {
  await connected;
  if (m.end) { if (client) await client.end().catch(() => undefined); reply({ ended: true }); port.close(); return; }
  if (broken) return reply(ended(broken));
  try {
    const r = await client.query(m.params.length ? { text: m.sql, values: m.params } : m.sql);
    const last = Array.isArray(r) ? r[r.length - 1] : r;
    reply({ rows: last.rows, rowCount: last.rowCount });
  } catch (e) {
    // The server ended the session (admin shutdown, crash) or the connection failed: nothing more runs on it.
    const gone = broken || !e.severity || /^(57P0|08)/.test(e.code || '') || e.severity === 'FATAL';
    reply(gone ? ended(e) : fail(e));
  }
});
`;

export class SyncPgSession {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private closed = false;

  constructor(config: pg.ClientConfig, private readonly timeoutMs = SYNC_QUERY_TIMEOUT_MS) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Not the parent's flags: \`--input-type=module\` (a \`node -e\` parent) would make this CommonJS source a module.
      execArgv: [],
      workerData: { pgPath, config, port: port2, flag: this.flag },
      transferList: [port2],
    });
    // The thread must not keep the process alive on its own; close() ends it.
    this.worker.unref();
    this.port.unref();
  }

  /** False once the session ended or was given up: open a new one. */
  get alive(): boolean {
    return !this.closed;
  }

  /**
   * Runs one statement (several, without params) and returns the rows of
   * the last. Server errors come back as PgError with their SQLSTATE; a lost
   * or stuck session throws an Error and every later call throws too.
   */
  query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): T[] {
    if (this.closed) throw new Error('database session closed');
    const msg = this.call({ sql, params });
    if (msg.error) {
      if (msg.error.code === 'session') {
        this.abandon();
        throw new StoreUnavailableError(`database session ended (${msg.error.message})`);
      }
      throw msg.error.code ? new PgError(msg.error.message, msg.error.code) : new Error(msg.error.message);
    }
    return msg.rows as T[];
  }

  private call(m: object): { rows?: unknown[]; error?: { message: string; code: string }; ended?: boolean } {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(m);
    if (Atomics.wait(this.flag, 0, 0, this.timeoutMs) === 'timed-out') {
      this.abandon();
      throw new StoreUnavailableError(`database did not answer within ${this.timeoutMs} ms; session given up`);
    }
    const got = receiveMessageOnPort(this.port);
    if (!got) throw new Error('database session thread sent no reply');
    return got.message as ReturnType<SyncPgSession['call']>;
  }

  private abandon(): void {
    this.closed = true;
    void this.worker.terminate();
  }

  /** Ends the session cleanly (the server drops its locks) and the thread with it. */
  close(): void {
    if (this.closed) return;
    try {
      this.call({ end: true });
    } catch { /* given up already */ }
    this.abandon();
  }
}
