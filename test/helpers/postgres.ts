// A throwaway PostgreSQL server for one test file: Debian's postgresql 15,
// initdb + pg_ctl in a temporary directory, listening only on a unix socket
// in that directory (never TCP, never the system service). initdb refuses to
// run as root, and tests run as root, so the server runs as the `postgres`
// user Debian's package creates; root reaches the 0700 socket directory
// regardless, and trust auth is confined to that private socket.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PgRig {
  dir: string;
  /** libpq conninfo for `database` (created on demand with createDatabase). */
  conninfo(database?: string): string;
  createDatabase(name: string): string;
  stop(): void;
}

function asPostgres(cmd: string, args: string[], netns?: string): void {
  const uid = process.geteuid?.();
  const inNs = (argv: string[]) => (netns ? ['ip', ['netns', 'exec', netns, ...argv]] as const : [argv[0]!, argv.slice(1)] as const);
  const [bin, rest] = inNs(uid === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args]);
  execFileSync(bin, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * `tcp`: also listen on `address` (port 5432) inside the namespace `netns`,
 * where the server then runs, trusting clients from `trust` (a CIDR inside
 * the test's own namespaces). Default: the unix socket only.
 */
export function startPostgres(tcp?: { netns: string; address: string; trust: string }): PgRig {
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-pg-'));
  if (process.geteuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  asPostgres(join(BIN, 'initdb'), ['-D', data, '--auth=trust', '-U', 'rackboot', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  if (tcp) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${tcp.trust} trust\n`);
  asPostgres(join(BIN, 'pg_ctl'), ['-D', data, '-s', '-w', '-t', '30', '-l', join(dir, 'server.log'), '-o',
    `-c listen_addresses='${tcp?.address ?? ''}' -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`, 'start'], tcp?.netns);
  const conninfo = (database = 'postgres') => `host=${dir} user=rackboot dbname=${database}`;
  return {
    dir,
    conninfo,
    createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      execFileSync('psql', ['-X', '-q', '-d', conninfo(), '-c', `CREATE DATABASE ${name}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      return conninfo(name);
    },
    stop() {
      try {
        asPostgres(join(BIN, 'pg_ctl'), ['-D', data, '-s', '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface PgFileRig {
  /** The file's server (started before its first test). */
  readonly pg: PgRig;
  /** The file's temporary directory (made before its first test). */
  readonly dir: string;
  /** A new, empty database on the file's server: its conninfo. */
  database(): string;
}

/**
 * For one test file: a server (startPostgres) and a temporary directory,
 * both made before its first test and removed after its last. Read the
 * members inside tests and hooks, not at the file's top level.
 */
export function usePgAndTempDir(prefix: string): PgFileRig {
  let pg: PgRig | undefined;
  let dir: string | undefined;
  let databases = 0;
  beforeAll(() => {
    pg = startPostgres();
    dir = mkdtempSync(join(tmpdir(), prefix));
  }, 60_000);
  afterAll(() => {
    try {
      pg?.stop();
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`usePgAndTempDir: the ${what} exists only once beforeAll has run`);
    return v;
  };
  return {
    get pg() { return ready(pg, 'server'); },
    get dir() { return ready(dir, 'directory'); },
    database: () => ready(pg, 'server').createDatabase(`t${process.pid}_${++databases}`),
  };
}
