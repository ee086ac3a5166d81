import { createLogger } from '../log.js';
import { startDaemon } from '../daemon.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';

export const serve: Command = {
  name: ['serve'],
  summary: 'run the appliance (DHCP, TFTP, HTTP)',
  usage: `rackboot serve [--config FILE] [--inventory FILE] [--data-dir DIR] [--http-listen HOST:PORT] [--admin-listen HOST:PORT] [--no-dhcp] [--no-tftp]

Runs the daemon. Flags override the settings file. Started from the repo
root with no flags, it serves the bundled example inventory with ./data.
SIGTERM or SIGINT stops it cleanly.`,
  options: { 'http-listen': { type: 'string' }, 'admin-listen': { type: 'string' }, 'no-dhcp': { type: 'boolean' }, 'no-tftp': { type: 'boolean' } },
  async run(args, io) {
    const settings = settingsFor(args, io, {
      httpListen: args.values['http-listen'] as string | undefined,
      adminListen: args.values['admin-listen'] as string | undefined,
      noDhcp: args.values['no-dhcp'] as boolean | undefined,
      noTftp: args.values['no-tftp'] as boolean | undefined,
    });
    if (!settings) return EXIT_FAILURE;
    const log = createLogger({ level: settings.logLevel });
    let daemon;
    try {
      daemon = await startDaemon(settings, log);
    } catch (err) {
      log.fatal({ err }, 'rackboot could not start');
      io.err(`rackboot: ${(err as Error).message}`);
      io.err('rackboot: run `rackboot doctor` to see what is missing');
      log.flush?.();
      return EXIT_FAILURE;
    }
    const stopped = new Promise<void>((resolveStop) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down');
        daemon.close().then(resolveStop, (err) => {
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
