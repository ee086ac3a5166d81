import { createLogger } from '../log.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { ListenerBindError } from '../net/listener.js';
import { loadSettings, type SettingsOverrides } from '../settings/settings.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, settingsOverrides, type Command, type ParsedArgs } from './command.js';

/** The flags that change what `serve` listens on; `doctor` takes them too, to check the same ports. */
export const LISTEN_OPTIONS = { 'http-listen': { type: 'string' }, 'admin-listen': { type: 'string' }, 'no-dhcp': { type: 'boolean' }, 'no-tftp': { type: 'boolean' } } as const;

export function listenFlags(args: ParsedArgs): SettingsOverrides {
  return {
    httpListen: args.values['http-listen'] as string | undefined,
    adminListen: args.values['admin-listen'] as string | undefined,
    noDhcp: args.values['no-dhcp'] as boolean | undefined,
    noTftp: args.values['no-tftp'] as boolean | undefined,
  };
}

export const serve: Command = {
  name: ['serve'],
  summary: 'run the appliance (DHCP, TFTP, HTTP)',
  usage: `rackboot serve [--config FILE] [--inventory FILE] [--data-dir DIR] [--http-listen HOST:PORT] [--admin-listen HOST:PORT] [--no-dhcp] [--no-tftp]

Runs the daemon. Flags override the settings file. Started from the repo
root with no flags, it serves the bundled example inventory with ./data.
SIGTERM or SIGINT stops it cleanly. SIGHUP reloads: the inventory, the
settings that can change live (the log names those that need a restart).
A port that cannot be bound stops it with one line naming the address.
A generated admin token is written to DATA/admin-token (mode 0600), and
printed only when stdout is a terminal.`,
  options: LISTEN_OPTIONS,
  async run(args, io) {
    const flags = listenFlags(args);
    const settings = settingsFor(args, io, flags);
    if (!settings) return EXIT_FAILURE;
    const log = createLogger({ level: settings.logLevel });
    // SIGHUP's default action ends the process: take it over before starting,
    // so a `systemctl reload` during start-up or shutdown never kills us.
    let daemon: Daemon | undefined;
    let phase: 'starting' | 'serving' | 'stopping' = 'starting';
    let reloadWanted = false;
    const reload = () => {
      if (phase !== 'serving' || !daemon) {
        reloadWanted = phase === 'starting';
        return;
      }
      daemon.reload().catch((err) => log.error({ err }, 'reload failed; the daemon keeps running as it was'));
    };
    process.on('SIGHUP', reload);
    try {
      daemon = await startDaemon(settings, log, {
        reloadSettings: () => loadSettings({ ...settingsOverrides(args), ...flags }),
        screen: { isTTY: Boolean(process.stdout.isTTY), out: io.out },
      });
    } catch (err) {
      process.off('SIGHUP', reload);
      if (err instanceof ListenerBindError) {
        // The one line an operator needs; a stack would only bury it.
        io.err(`rackboot: ${err.message}`);
        return EXIT_FAILURE;
      }
      log.fatal({ err }, 'rackboot could not start');
      io.err(`rackboot: ${(err as Error).message}`);
      io.err('rackboot: run `rackboot doctor` to see what is missing');
      log.flush?.();
      return EXIT_FAILURE;
    }
    phase = 'serving';
    if (reloadWanted) reload();
    const running = daemon;
    const stopped = new Promise<void>((resolveStop) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down');
        phase = 'stopping';
        running.close().then(resolveStop, (err) => {
          log.error({ err }, 'shutdown failed');
          resolveStop();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await stopped;
    return EXIT_OK;
  },
};
