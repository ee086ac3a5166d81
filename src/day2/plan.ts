// `rackboot plan`: per installed node, what differs between the inventory
// and what the node runs. The config part asks the node itself with a
// dry-run ApplyConfiguration (mode AUTO), so the diff and the mode are
// Talos's own; the diff is redacted before anyone sees it.
import type { ApplyMode } from '../talos/client.js';
import { TalosCallError } from '../talos/errors.js';
import type { NodeRecord, Store } from '../store/store.js';
import { appliedConfigFor, parseInstallerImage, recordTalosVersion, type AppliedConfig } from './applied.js';
import type { ConfigPort, DesiredNode, DesiredState } from './ports.js';
import { configSha256, redactDiff } from './redact.js';

export const DAY2_STATES = ['installed', 'ready'];

export interface Pair { desired: string; running: string | null; differs: boolean }

export interface ConfigPlan {
  desiredSha256: string;
  appliedSha256: string | null;
  /** What Talos says: the mode AUTO would pick and its redacted diff; absent when not asked or it did not answer. */
  mode?: ApplyMode;
  diff?: string;
  /** The node already runs this config (Talos answered "No changes."). */
  unchanged?: boolean;
  /** Talos refused this very config before; it is not sent again until the inventory changes. */
  rejected?: string;
  /** Why Talos could not be asked, or refused the config now. */
  error?: string;
}

export interface NodePlan {
  node: string;
  role: NodeRecord['role'];
  state: NodeRecord['state'];
  config: ConfigPlan;
  talosVersion: Pair;
  schematic: Pair;
  kubernetesVersion: Pair;
  /** True when anything differs, or the config could not be compared. */
  pending: boolean;
}

const pair = (desired: string, running: string | null | undefined): Pair =>
  ({ desired, running: running ?? null, differs: running !== desired });

/** What can be said from the store alone (no Talos call): versions, schematic and whether the config hash moved. */
export function comparePlan(node: NodeRecord, desired: DesiredNode, applied: AppliedConfig | undefined): NodePlan {
  const sha = configSha256(desired.config);
  const installer = applied?.installerImage ? parseInstallerImage(applied.installerImage) : undefined;
  const config: ConfigPlan = { desiredSha256: sha, appliedSha256: applied?.sha256 ?? null };
  if (applied?.rejected?.sha256 === sha) config.rejected = applied.rejected.reason;
  const plan: NodePlan = {
    node: node.name, role: node.role, state: node.state, config,
    talosVersion: pair(desired.talosVersion, applied?.talosVersion ?? installer?.version),
    schematic: pair(desired.schematic, installer?.schematic),
    kubernetesVersion: pair(desired.kubernetesVersion, applied?.kubernetesVersion),
    pending: false,
  };
  plan.pending = configDiffers(plan) || plan.talosVersion.differs || plan.schematic.differs || plan.kubernetesVersion.differs;
  return plan;
}

export function configDiffers(p: NodePlan): boolean {
  if (p.config.unchanged) return false;
  return p.config.desiredSha256 !== p.config.appliedSha256 || !!p.config.error;
}

/** The diff part of upstream's dry-run mode_details ("Dry run summary: …\nConfig diff:\n\n<diff>"), redacted. */
export function dryRunDiff(modeDetails: string): { diff: string; unchanged: boolean } {
  const at = modeDetails.indexOf('Config diff:');
  const diff = at >= 0 ? modeDetails.slice(at + 'Config diff:'.length).replace(/^\n+/, '') : modeDetails;
  return { diff: redactDiff(diff), unchanged: /^No changes\.\s*$/.test(diff) };
}

/** An error from Talos that says "this config is wrong", as opposed to "cannot ask now". */
export function isRejection(err: unknown): err is TalosCallError {
  return err instanceof TalosCallError && err.code === 3; // INVALID_ARGUMENT
}

export interface PlanDeps {
  store: Store;
  desired: DesiredState;
  port: ConfigPort;
}

/** The plan for one node, asking Talos for the dry-run diff when the config hash moved. */
export async function planNode(deps: PlanDeps, node: NodeRecord): Promise<NodePlan> {
  let desired: DesiredNode;
  try {
    desired = await deps.desired(node);
  } catch (err) {
    const none = pair('?', null);
    return { node: node.name, role: node.role, state: node.state, pending: true, talosVersion: none, schematic: none, kubernetesVersion: none,
      config: { desiredSha256: '', appliedSha256: appliedConfigFor(deps.store, node.name)?.sha256 ?? null, error: `cannot render the config: ${(err as Error).message}` } };
  }
  // The running version as the node says it now (an upgrade by other means shows here); kept as recorded when it does not answer.
  try {
    recordTalosVersion(deps.store, node.name, await deps.port.version(node));
  } catch { /* not answering: the recorded version stands */ }
  const plan = comparePlan(node, desired, appliedConfigFor(deps.store, node.name));
  if (plan.config.desiredSha256 === plan.config.appliedSha256 || plan.config.rejected) return plan;
  try {
    const res = await deps.port.apply(node, desired.config, 'AUTO', { dryRun: true });
    const { diff, unchanged } = dryRunDiff(res.modeDetails);
    Object.assign(plan.config, { mode: res.mode, diff, unchanged });
  } catch (err) {
    plan.config.error = isRejection(err) ? `Talos rejects the config: ${err.details}` : `Talos did not answer: ${(err as Error).message}`;
  }
  plan.pending = configDiffers(plan) || plan.talosVersion.differs || plan.schematic.differs || plan.kubernetesVersion.differs;
  return plan;
}

export async function planNodes(deps: PlanDeps, names?: string[]): Promise<NodePlan[]> {
  const nodes = deps.store.listNodes().filter((n) => DAY2_STATES.includes(n.state) && (!names || names.includes(n.name)));
  return Promise.all(nodes.map((n) => planNode(deps, n)));
}

/** The plan as text, one block per node, differences only. */
export function formatPlan(plans: NodePlan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    if (!p.pending) {
      out.push(`${p.node}: up to date`);
      continue;
    }
    out.push(`${p.node} (${p.role}, ${p.state}):`);
    for (const [label, v] of [['Talos version', p.talosVersion], ['schematic', p.schematic], ['Kubernetes version', p.kubernetesVersion]] as const) {
      if (v.differs) out.push(`  ${label}: ${v.running ?? 'unknown'} → ${v.desired}`);
    }
    const c = p.config;
    if (c.rejected) out.push(`  config: rejected by Talos, not retried until the inventory changes: ${c.rejected}`);
    else if (c.error) out.push(`  config: ${c.error}`);
    else if (c.unchanged) { /* the node runs it already */ } else if (configDiffers(p)) {
      out.push(`  config: differs; Talos would apply it ${c.mode === 'NO_REBOOT' ? 'without a reboot' : c.mode === 'REBOOT' ? 'with a reboot' : `(mode ${c.mode ?? '?'})`}`);
      if (c.diff) out.push(...c.diff.trimEnd().split('\n').map((l) => `    ${l}`));
    }
  }
  return out.join('\n');
}
