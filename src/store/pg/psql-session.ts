// One PostgreSQL session over the `pg` client: one `pg.Client` is one server
// connection, so a session-level advisory lock lives exactly as long as this
// object's connection does. (The file keeps its name from the first slice,
// which drove Debian's `psql` over a pipe; the class API is unchanged.)
//
// Values go as bind parameters ($1, $2 …). `lit()` stays for callers that
// still build SQL text; new code passes `params`.
import pg from 'pg';
import { CLIENT_KEEPALIVE_IDLE_MS, limitUnacknowledged, SERVER_TCP_OPTIONS } from './silent-loss.js';

export class PgError extends Error {
  constructor(message: string, readonly sqlstate: string) {
    super(message);
    this.name = 'PgError';
  }
}

/** A SQL literal for a string or integer, for SQL built as text (prefer bind parameters). */
export function lit(v: string | number | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`not an integer SQL value: ${v}`);
    return String(v);
  }
  if (v.includes('\0')) throw new Error('a SQL string cannot hold NUL');
  return `'${v.replace(/'/g, "''")}'`;
}

/**
 * Client settings from a libpq conninfo: a postgres:// URI, or the
 * `key=value …` form (values may be single-quoted, with \' and \\ escapes).
 */
export function clientConfig(conninfo: string): pg.ClientConfig {
  const timeoutS = Number(process.env.PGCONNECT_TIMEOUT ?? '5');
  // A path lost without a FIN is noticed by both ends in bounded time (silent-loss.ts).
  const base: pg.ClientConfig = {
    connectionTimeoutMillis: timeoutS * 1000, application_name: 'rackboot',
    keepAlive: true, keepAliveInitialDelayMillis: CLIENT_KEEPALIVE_IDLE_MS, options: SERVER_TCP_OPTIONS,
  };
  if (/^postgres(ql)?:\/\//.test(conninfo)) return { ...base, connectionString: conninfo };
  const kv = new Map<string, string>();
  const re = /\s*([a-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(conninfo)) !== null && m[0] !== '') {
    kv.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
    at = re.lastIndex;
  }
  // The position, not the text: what is left may be the tail of a password.
  if (conninfo.slice(at).trim() !== '') throw new Error(`cannot read the database conninfo at character ${at + 1} (key=value pairs; quote a value with spaces)`);
  const port = kv.get('port');
  const timeout = kv.get('connect_timeout');
  return {
    ...base,
    host: kv.get('host') ?? kv.get('hostaddr'),
    port: port ? Number(port) : undefined,
    user: kv.get('user'),
    password: kv.get('password'),
    database: kv.get('dbname'),
    ...(timeout ? { connectionTimeoutMillis: Number(timeout) * 1000 } : {}),
    ...(kv.has('application_name') ? { application_name: kv.get('application_name') } : {}),
  };
}

/** BIGINT (epoch ms, counters) as a number while it is exact, as its text beyond. */
const INT8_OID = 20;
function typeParser(oid: number, format?: string): (v: string) => unknown {
  if (oid === INT8_OID && format !== 'binary') {
    return (v: string) => {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v;
    };
  }
  return (pg.types.getTypeParser as (o: number, f?: string) => (v: string) => unknown)(oid, format);
}

export class PsqlSession {
  private readonly client: pg.Client;
  private readonly connecting: Promise<void>;
  private ended: Error | undefined;

  /** `conninfo`: a libpq connection string or URI (e.g. `host=/tmp/x dbname=rackboot user=rackboot`). */
  constructor(conninfo: string) {
    let config: pg.ClientConfig;
    try {
      config = clientConfig(conninfo);
    } catch (err) {
      config = {};
      this.ended = err as Error;
    }
    this.client = new pg.Client({ ...config, types: { getTypeParser: typeParser } as pg.CustomTypesConfig });
    // A lost connection surfaces here (and on the next query); it must not crash the process.
    this.client.on('error', (e) => this.end(e.message));
    this.client.on('end', () => this.end('connection closed'));
    this.connecting = this.ended
      ? Promise.resolve()
      : this.client.connect().then(() => void limitUnacknowledged(this.stream()), (e: Error) => this.end(e.message));
  }

  private end(why: string): void {
    this.ended ??= new Error(`database session ended (${why})`);
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** The server process serving this session (pg_backend_pid), once connected. */
  get pid(): number | undefined {
    return (this.client as unknown as { processID?: number | null }).processID ?? undefined;
  }

  private async run(sql: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
    await this.connecting;
    if (this.ended) throw this.ended;
    try {
      return await this.client.query(sql, params as unknown[] | undefined);
    } catch (err) {
      const e = err as Error & { code?: string; severity?: string };
      if (typeof e.code === 'string' && e.severity) throw new PgError(e.message, e.code);
      this.end(e.message);
      throw this.ended ?? e;
    }
  }

  /** Statements whose output is not needed (DDL, SET, transaction control); several only without params. */
  async exec(sql: string, params?: readonly unknown[]): Promise<void> {
    await this.run(sql, params);
  }

  /** Rows of one SELECT or one data-modifying statement with RETURNING. */
  async rows<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.run(sql, params)).rows as T[];
  }

  /** LISTENs on `channel`; `onNotify` gets each NOTIFY's payload from then on (PostgreSQL delivers them at the sender's COMMIT). */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<void> {
    this.client.on('notification', (m) => {
      if (m.channel === channel) onNotify(m.payload ?? '');
    });
    await this.exec(`LISTEN ${channel}`);
  }

  /** Ends the session cleanly; the server drops its session locks. */
  async close(): Promise<void> {
    await this.connecting;
    if (this.ended) {
      this.destroySocket();
      return;
    }
    this.end('closed');
    await Promise.race([this.client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.destroySocket();
  }

  /** Ends the session abruptly (the socket is destroyed, no Terminate message): what the server sees when an appliance dies. */
  async kill(): Promise<void> {
    await this.connecting;
    this.end('killed');
    this.destroySocket();
  }

  private stream(): { destroy(): void; destroyed?: boolean } {
    return (this.client as unknown as { connection: { stream: { destroy(): void; destroyed?: boolean } } }).connection.stream;
  }

  private destroySocket(): void {
    const stream = this.stream();
    if (!stream.destroyed) stream.destroy();
  }
}
