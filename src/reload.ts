// SIGHUP: what a running daemon can take in without a restart. The settings
// are read again (same file, same flags): live keys are applied (see
// settings/live.ts) and changed keys that are bound at start are named, so
// the operator knows a restart is still due. The inventory is read again
// even if the file watcher saw no change (a filesystem without inotify, an
// edit that kept size and mtime). Logs go to stdout (the journal under
// systemd, docker's log driver in a container): there is no file of ours to
// reopen, and the reload says so. The inventory is read off the event loop
// (see inventory/watch.ts), so the report comes once that is done.
import type { Logger } from './log.js';
import { setLogLevel } from './log.js';
import type { InventoryWatcher } from './inventory/watch.js';
import { SettingsError, type Settings } from './settings/settings.js';
import { applyLive, diffSettings } from './settings/live.js';

export interface ReloadReport {
  /** False when the settings file was invalid or unreadable: nothing of it was applied. */
  settingsOk: boolean;
  applied: string[];
  needRestart: string[];
  inventoryOk: boolean;
}

export async function reloadDaemon(d: { settings: Settings; log: Logger; watcher: InventoryWatcher; reloadSettings?: () => Settings }): Promise<ReloadReport> {
  const { settings, log } = d;
  const report: ReloadReport = { settingsOk: true, applied: [], needRestart: [], inventoryOk: false };
  if (d.reloadSettings) {
    try {
      const next = d.reloadSettings();
      const change = diffSettings(settings, next);
      applyLive(settings, next, change.live);
      if (change.live.includes('logLevel')) setLogLevel(log, settings.logLevel);
      report.applied = change.live;
      report.needRestart = change.needRestart;
    } catch (err) {
      report.settingsOk = false;
      const lines = err instanceof SettingsError ? err.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`) : [(err as Error).message];
      log.error({ errors: lines }, 'reload: the settings are invalid; the running settings stay as they were');
    }
  }
  report.inventoryOk = await d.watcher.reloadInBackground();
  if (report.needRestart.length > 0) log.warn({ needRestart: report.needRestart }, 'reload: these changed settings take effect only after a restart');
  log.info({ ...report, log: 'stdout (nothing to reopen)' }, 'reloaded');
  return report;
}
