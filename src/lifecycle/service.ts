// The lifecycle's running parts in the daemon: the console receiver, the
// timeout sweeper (which also retries Reset for reimages marked from the
// CLI), and the reimager the HTTP API uses.
import type { Service } from '../daemon.js';
import type { Logger } from '../log.js';
import { DEFAULT_UKI_SILENCE_SECONDS, type Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import type { Lifecycle } from './lifecycle.js';
import { ConsoleLog } from '../console/buffer.js';
import { ConsoleReceiver } from '../console/receiver.js';
import { Reimager } from './reimage.js';
import { startSweeper, sweepTimeouts, type StuckRetry } from './sweeper.js';
import { sweepSilentUkiFetches, ukiSilenceSeconds } from './uki-watch.js';
import type { MetricsSource, NodeResetter, ResetFallback } from './ports.js';

/**
 * What the lifecycle services read, and the slots where they leave the
 * console log, the reimager and their counters for whoever serves them
 * (the HTTP context has this shape; the lifecycle does not know HTTP).
 */
export interface LifecycleHost {
  readonly settings: Settings;
  readonly store: Store;
  readonly lifecycle: Lifecycle;
  console?: ConsoleLog;
  reimager?: Reimager;
  metricsSources?: MetricsSource[];
}

export async function startLifecycleServices(ctx: LifecycleHost, log: Logger, opts: { resetter?: NodeResetter; metricsSources?: MetricsSource[]; stuck?: StuckRetry; resetFallback?: ResetFallback } = {}): Promise<Service[]> {
  const { settings, store, lifecycle } = ctx;
  const services: Service[] = [];
  ctx.metricsSources = [...(ctx.metricsSources ?? []), ...(opts.metricsSources ?? [])];
  ctx.reimager = new Reimager(lifecycle.machine, opts.resetter, log.child({ svc: 'reimage' }));

  if (settings.console.enabled) {
    const consoleLog = new ConsoleLog(settings.console.linesPerNode);
    const receiver = new ConsoleReceiver(store, consoleLog);
    try {
      const port = await receiver.listen(settings.serverAddress ?? '0.0.0.0', settings.console.port);
      ctx.console = consoleLog;
      ctx.metricsSources.push(receiver);
      log.info({ port }, 'console receiver listening for talos.logging.kernel');
      services.push({ name: 'console', close: () => receiver.close() });
    } catch (err) {
      // Like every listener: a port the settings ask for and cannot have stops
      // the start (console.enabled: false turns the receiver off).
      await receiver.close();
      throw err;
    }
  }

  const reimager = ctx.reimager;
  const sweeper = startSweeper(
    settings.lifecycle.sweepSeconds,
    async () => {
      sweepTimeouts(lifecycle.machine, settings.lifecycle.timeouts, Date.now(), opts.stuck);
      const ukiSilence = ukiSilenceSeconds(settings.dhcp.mode, settings.httpBoot?.ukiSilenceSeconds ?? DEFAULT_UKI_SILENCE_SECONDS);
      sweepSilentUkiFetches(lifecycle.machine, ukiSilence, Date.now());
      await reimager.resetPending();
      // Also here, not only after the Talos service's reset step: a reimage
      // with no Talos service (no talosconfig yet) or no address still falls
      // back by time. The fallback starts the work and returns.
      opts.resetFallback?.reimageFallbacks();
    },
    (err) => log.error({ err }, 'lifecycle sweep failed'),
  );
  services.push({ name: 'lifecycle-sweeper', close: async () => sweeper.stop() });
  return services;
}
