// One logger for the daemon. Secrets never reach a log line: anything that
// could carry key material or tokens is redacted by path, and callers log
// names and sizes of secret files, never their contents.
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export const REDACT_PATHS = [
  'secrets', '*.secrets', 'secret', '*.secret', 'key', '*.key', 'crt', '*.crt', 'ca', '*.ca',
  'token', '*.token', 'adminToken', '*.adminToken', 'password', '*.password',
  'talosconfig', '*.talosconfig', 'kubeconfig', '*.kubeconfig', 'machineConfig', '*.machineConfig',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  // Only the query's token (a pull node's boot token) is hidden; the rest of the URL is worth logging.
  'req.url',
];

/** Hides a value; a request URL keeps everything but its token= value. */
export function censor(value: unknown, path: readonly unknown[]): unknown {
  if (path.length === 2 && path[0] === 'req' && path[1] === 'url' && typeof value === 'string') return value.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
  return '[redacted]';
}

export type { Logger };

export function createLogger(opts: { level?: LevelWithSilent; pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? 'info';
  const base = { level, redact: { paths: REDACT_PATHS, censor } };
  if (opts.destination) return pino(base, opts.destination);
  if (opts.pretty ?? process.stdout.isTTY) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino(base);
}
