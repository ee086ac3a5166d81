// One PostgreSQL session, driven through Debian's `psql` over a pipe. The
// `pg` npm client is the intended replacement (not a dependency yet); until
// then this keeps the one property leadership depends on: one child process
// is one server session, so a session-level advisory lock lives exactly as
// long as this object's child does.
//
// Every request is framed by \echo markers that carry psql's own ERROR and
// LAST_ERROR_* variables, so a failed statement is told apart from its output
// without reading stderr (whose order against stdout is not defined).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class PgError extends Error {
  constructor(message: string, readonly sqlstate: string) {
    super(message);
    this.name = 'PgError';
  }
}

/** A SQL literal for a string or integer; psql has no bind parameters before PostgreSQL 16. */
export function lit(v: string | number | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`not an integer SQL value: ${v}`);
    return String(v);
  }
  if (v.includes('\0')) throw new Error('a SQL string cannot hold NUL');
  return `'${v.replace(/'/g, "''")}'`;
}

interface Pending { resolve: (lines: string[]) => void; reject: (e: Error) => void; lines: string[]; }

export class PsqlSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly marker = `__rackboot_${randomBytes(6).toString('hex')}`;
  private readonly queue: Pending[] = [];
  private buffered = '';
  private stderr = '';
  private exited: Error | undefined;
  private readonly exit: Promise<void>;

  /** `conninfo`: a libpq connection string or URI (e.g. `host=/tmp/x dbname=rackboot user=rackboot`). */
  constructor(conninfo: string, psql = 'psql') {
    this.child = spawn(psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0', '-d', conninfo], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '5', PGAPPNAME: 'rackboot' },
    });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => this.onData(d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4000); });
    this.child.stdin.on('error', () => undefined); // a dead child is reported through 'exit'
    this.exit = new Promise((resolve) => {
      const done = (why: string) => {
        this.exited ??= new Error(`database session ended (${why})${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`);
        for (const p of this.queue.splice(0)) p.reject(this.exited);
        resolve();
      };
      this.child.on('exit', (code, signal) => done(signal ? `psql killed by ${signal}` : `psql exited ${code}`));
      this.child.on('error', (e) => done(e.message));
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** The psql child's pid: killing it ends the server session, as a crashed appliance would. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private onData(d: string): void {
    this.buffered += d;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const head = this.queue[0];
      if (!head) continue;
      if (line === `${this.marker}_end`) {
        this.queue.shift();
        head.resolve(head.lines);
      } else {
        head.lines.push(line);
      }
    }
  }

  /** Runs SQL (one or more statements); resolves with psql's output lines, rejects with the server's error. */
  private run(sql: string): Promise<string[]> {
    if (this.exited) return Promise.reject(this.exited);
    const raw = new Promise<string[]>((resolve, reject) => this.queue.push({ resolve, reject, lines: [] }));
    this.child.stdin.write(`${sql.trim().replace(/;?$/, ';')}\n\\echo ${this.marker} :ERROR :LAST_ERROR_SQLSTATE\n\\echo :LAST_ERROR_MESSAGE\n\\echo ${this.marker}_end\n`);
    return raw.then((lines) => {
      const at = lines.findIndex((l) => l.startsWith(`${this.marker} `));
      if (at < 0) throw new Error('database session: reply without its marker');
      const [, failed, sqlstate] = lines[at]!.split(' ');
      if (failed === 'true') throw new PgError(lines.slice(at + 1).join('\n') || 'statement failed', sqlstate ?? '');
      return lines.slice(0, at);
    });
  }

  /** Statements whose output is not needed (DDL, SET, transaction control). */
  async exec(sql: string): Promise<void> {
    await this.run(sql);
  }

  /** Rows of one SELECT or one data-modifying statement with RETURNING, as JSON objects. */
  async rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const out = await this.run(`WITH q AS (${sql}) SELECT coalesce(jsonb_agg(q), '[]'::jsonb)::text FROM q`);
    return JSON.parse(out.join('\n')) as T[];
  }

  /** Ends the session cleanly; the server drops its session locks. */
  async close(): Promise<void> {
    if (!this.exited) this.child.stdin.end('\\q\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exit;
    clearTimeout(timer);
  }

  /** Ends the session abruptly (SIGKILL to psql): what the server sees when an appliance dies. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exit;
  }
}
