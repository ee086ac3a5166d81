// Which settings a reload (SIGHUP) may change under a running daemon. Live
// keys are read where they are used (per request, per packet, per sweep),
// so writing the new value into the one Settings object every service holds
// is the whole of applying them. Everything else is bound at start (sockets,
// the store, the DHCP mode and address plan, the admin guard, the inventory
// path) and needs a restart: a reload reports those and leaves them be.
import type { Settings } from './settings.js';

export const LIVE_KEYS = [
  'logLevel',
  'talos.consoles',
  'talos.extraKernelArgs',
  'lifecycle.timeouts',
  'factory.url',
  'dhcp.dns',
  'dhcp.domain',
  'dhcp.gateway',
  'dhcp.leaseSeconds',
  // Read by the automatic BMC paths at every decision (src/bmc/auto-power.ts); the waves are read by the CLI.
  'power.resetFallbackSeconds',
  'power.resetFallbackAttempts',
  'power.stuckRetry',
  'power.bmcTimeoutSeconds',
  'power.waveSize',
  'power.waveIntervalSeconds',
  // branch registry (issue 20): read at every config render (pulled, pushed, printed).
  'registry.mirror',
  'registry.offline',
  // day2-config: read at every inventory reload (src/day2/auto-apply.ts).
  'day2.autoApply',
  // branch commission: read per iPXE request; the reader runs whenever the daemon does.
  'discovery.commission',
] as const;

export interface SettingsChange {
  /** Changed keys applied by the reload. */
  live: string[];
  /** Changed keys that take effect only after a restart. */
  needRestart: string[];
}

/** Keys as `key` (top level) or `section.key`, each with its value as JSON. */
function flatten(s: Settings): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(s)) {
    if (k === 'file') continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out.set(`${k}.${k2}`, JSON.stringify(v2) ?? 'undefined');
    } else out.set(k, JSON.stringify(v) ?? 'undefined');
  }
  return out;
}

export function diffSettings(current: Settings, next: Settings): SettingsChange {
  const a = flatten(current);
  const b = flatten(next);
  const live: string[] = [];
  const needRestart: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(key) === b.get(key)) continue;
    ((LIVE_KEYS as readonly string[]).includes(key) ? live : needRestart).push(key);
  }
  return { live, needRestart };
}

/** Writes the live keys of `next` into `current`, in place. */
export function applyLive(current: Settings, next: Settings, keys: string[]): void {
  for (const key of keys) {
    const [section, leaf] = key.split('.') as [keyof Settings, string | undefined];
    if (leaf === undefined) (current as unknown as Record<string, unknown>)[section] = next[section];
    else (current[section] as Record<string, unknown>)[leaf] = (next[section] as Record<string, unknown>)[leaf];
  }
}
