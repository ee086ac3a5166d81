// One logger for the daemon. Secrets never reach a log line: anything that
// could carry key material or tokens is redacted by path, and callers log
// names and sizes of secret files, never their contents.
import { redactConninfo } from './settings/conninfo.js';
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export const REDACT_PATHS = [
  'secrets', '*.secrets', 'secret', '*.secret', 'key', '*.key', 'crt', '*.crt', 'ca', '*.ca',
  'token', '*.token', 'adminToken', '*.adminToken', 'password', '*.password',
  'talosconfig', '*.talosconfig', 'kubeconfig', '*.kubeconfig', 'machineConfig', '*.machineConfig',
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  // Only the query's token (a pull node's boot token) is hidden; the rest of the URL is worth logging.
  'req.url',
  // A database conninfo keeps everything but its password (src/settings/conninfo.ts).
  'conninfo', '*.conninfo',
];

/** Hides a value; a request URL keeps everything but its token= value. */
export function censor(value: unknown, path: readonly unknown[]): unknown {
  if (path.length === 2 && path[0] === 'req' && path[1] === 'url' && typeof value === 'string') return value.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
  if (path[path.length - 1] === 'conninfo' && typeof value === 'string') return redactConninfo(value);
  return '[redacted]';
}

export type { Logger };

// A pino child copies its parent's level when it is made, so a level changed
// on reload must reach the long-lived children (one per service) too.
// Per-request children are made from those at request time and need nothing.
const descendants = new WeakMap<Logger, Set<WeakRef<Logger>>>();

export function createLogger(opts: { level?: LevelWithSilent; pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? 'info';
  const children = new Set<WeakRef<Logger>>();
  const gone = new FinalizationRegistry<WeakRef<Logger>>((ref) => children.delete(ref));
  const onChild = (child: Logger) => {
    if ('reqId' in child.bindings()) return;
    const ref = new WeakRef(child);
    children.add(ref);
    gone.register(child, ref);
  };
  const base = { level, redact: { paths: REDACT_PATHS, censor }, onChild };
  let root: Logger;
  if (opts.destination) root = pino(base, opts.destination);
  else if (opts.pretty ?? process.stdout.isTTY) {
    root = pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  } else root = pino(base);
  descendants.set(root, children);
  return root;
}

/** Sets the level of a logger made by createLogger and of every child made from it. */
export function setLogLevel(root: Logger, level: LevelWithSilent): void {
  root.level = level;
  for (const ref of descendants.get(root) ?? []) {
    const child = ref.deref();
    if (child) child.level = level;
  }
}
