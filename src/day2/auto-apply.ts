// day2.autoApply: no-reboot — after each inventory reload the daemon applies
// the config changes Talos can take in place, to installed nodes, and
// nothing else: changes that need a reboot wait for `rackboot apply` or the
// page. Runs never overlap; a reload during a run asks for one more run.
import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { ApplyOutcome, ConfigRollout } from './config-rollout.js';

export interface AutoApplyDeps {
  mode: () => Settings['day2']['autoApply'];
  /** A rollout with actor auto-apply; undefined when there is no admin identity yet. */
  rollout: () => ConfigRollout | undefined;
  log?: Logger;
}

export class AutoApply {
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** The outcome of the last run, for tests and the page. */
  last: ApplyOutcome[] = [];

  constructor(private readonly deps: AutoApplyDeps) {}

  /** Call after an inventory reload. Returns the run it started or joined. */
  trigger(): Promise<void> {
    if (this.closed || this.deps.mode() !== 'no-reboot') return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const rollout = this.deps.rollout();
        if (!rollout) {
          this.deps.log?.info('day2 auto-apply skipped: no talosconfig yet');
          break;
        }
        try {
          this.last = await rollout.run('all', { noRebootOnly: true });
          const applied = this.last.filter((o) => o.kind === 'applied').map((o) => o.node);
          const waiting = this.last.filter((o) => o.kind === 'needs-reboot').map((o) => o.node);
          if (applied.length || waiting.length) this.deps.log?.info({ applied, needsReboot: waiting }, 'day2 auto-apply ran');
        } catch (err) {
          this.deps.log?.error({ err }, 'day2 auto-apply failed');
        }
      } while (this.again && !this.closed);
      this.running = undefined;
    })();
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }
}
