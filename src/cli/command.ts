// The shape every `rackboot` command shares: common options, --help, and
// exit codes (0 ok, 1 failure, 2 bad usage).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadSettings, SettingsError, type Settings, type SettingsOverrides } from '../settings/settings.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Command {
  /** Words that select it, e.g. ['inventory', 'check']. */
  name: string[];
  summary: string;
  usage: string;
  options?: ParseArgsConfig['options'];
  /** Returns the exit code. */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export const COMMON_OPTIONS = {
  config: { type: 'string' },
  inventory: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_USAGE = `Common options:
  --config FILE       settings file (default: $RACKBOOT_CONFIG, ./rackboot.yaml, /etc/rackboot/rackboot.yaml)
  --inventory FILE    inventory file (overrides the settings)
  --data-dir DIR      state directory (overrides the settings)
  --log-level LEVEL   fatal|error|warn|info|debug|trace
  -h, --help          show this help`;

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export function settingsOverrides(args: ParsedArgs): SettingsOverrides {
  const v = args.values;
  const level = v['log-level'] as string | undefined;
  if (level !== undefined && !LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    config: v.config as string | undefined,
    inventory: v.inventory as string | undefined,
    dataDir: v['data-dir'] as string | undefined,
    logLevel: level as SettingsOverrides['logLevel'],
  };
}

/** Loads settings for a command, printing settings errors in FILE:LINE:COL form. */
export function settingsFor(args: ParsedArgs, io: Io, extra: SettingsOverrides = {}): Settings | undefined {
  try {
    return loadSettings({ ...settingsOverrides(args), ...extra });
  } catch (err) {
    if (err instanceof SettingsError) {
      io.err('rackboot: invalid settings:');
      for (const e of err.errors) io.err(`${e.file}:${e.line}:${e.col}: ${e.message}`);
      return undefined;
    }
    throw err;
  }
}
