// The parts of a node's page beyond its state: its machine config as
// rackboot renders it now (secrets redacted), and why its console is empty
// when it is. Shared by the page and GET /api/nodes/NODE.
import { configForNode, resolvedInstallDisk } from '../../talos/config/node-config.js';
import { redactMachineConfig } from '../../talos/config/redact.js';
import { unifiedDiff } from '../../talos/config/text-diff.js';
import { appliedConfigFor } from '../../day2/applied.js';
import { loadSecrets } from '../../talos/secrets.js';
import type { NodeRecord } from '../../store/store.js';
import type { HttpContext } from '../context.js';

export interface NodeConfigView {
  /** The config rackboot would serve this node now, secrets redacted; null when it cannot be rendered. */
  redacted: string | null;
  /** Why there is no config to show. */
  why: string | null;
  /**
   * What changed between the config the node last applied (day2/applied.ts,
   * stored redacted) and the one above; '' when they are the same. null: no
   * applied config is recorded to compare with.
   */
  appliedDiff: string | null;
}

export function nodeConfigView(ctx: HttpContext, node: NodeRecord): NodeConfigView {
  const inv = ctx.inventory();
  const spec = inv?.nodes.find((n) => n.name === node.name);
  if (!inv || !spec) return { redacted: null, why: inv ? 'this node is no longer in the inventory' : 'no valid inventory is loaded', appliedDiff: null };
  try {
    const text = configForNode(inv.cluster, spec, { settings: ctx.settings, publicUrl: ctx.publicUrl, secrets: loadSecrets(ctx.settings.dataDir), installDiskOf: resolvedInstallDisk(ctx.store) });
    const redacted = redactMachineConfig(text);
    const applied = appliedConfigFor(ctx.store, node.name)?.redacted;
    return { redacted, why: null, appliedDiff: applied ? unifiedDiff(applied, redacted) : null };
  } catch (err) {
    return { redacted: null, why: `the config cannot be rendered: ${(err as Error).message}`, appliedDiff: null };
  }
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';

/** Why a node's console shows nothing, from what rackboot knows; undefined when it has lines. */
export function consoleEmptyReason(
  node: Pick<NodeRecord, 'state' | 'lastSeen' | 'stateSince'>,
  capture: { on: false } | { on: true; port: number; startedAt: number; lines: number },
): string | undefined {
  if (!capture.on) return 'Console capture is off (console.enabled is false in the settings): no kernel log is collected.';
  if (capture.lines > 0) return undefined;
  if (node.lastSeen === null && node.state === 'registered') return 'No console yet: this node has not asked rackboot to boot since it was registered.';
  const memoryOnly = `Console lines are kept in memory only, and none came from this node since rackboot started (${when(capture.startedAt)}).`;
  if (node.state === 'installed' || node.state === 'ready') {
    return `${memoryOnly} An installed node keeps sending its kernel log only if its machine config carries rackboot's KmsgLogConfig (rackboot-console), added while console capture is on: a node installed before console capture was on, or installed by other means, sends nothing.`;
  }
  if (node.lastSeen !== null && node.lastSeen < capture.startedAt) return `${memoryOnly} It was last seen before that.`;
  return `No lines yet: Talos sends its kernel log once its kernel runs (talos.logging.kernel on its command line). If this stays empty, check that UDP port ${capture.port} on rackboot is reachable from the node: lines from an address rackboot cannot tie to a node are dropped (console_unmatched_total in /metrics).`;
}
