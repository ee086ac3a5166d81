// `rackboot apply`: sends each node whose config moved its new config with
// mode AUTO, letting Talos pick NO_REBOOT or REBOOT (CanApplyImmediate). A
// dry run first tells which: no-reboot nodes are applied together, then
// reboot nodes one at a time, control planes first, each sent only once the
// reboot gate lets it go down (etcd quorum without it) and waited for by
// the health gate before the next. A gate that fails holds the rest. A config
// Talos rejects is recorded on the node by hash and not sent again until
// the desired config changes (an inventory edit). Every apply is an event
// naming its actor.
import type { ApplyMode } from '../talos/client.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { Logger } from '../log.js';
import { appliedConfigFor, recordApplied, recordRejected } from './applied.js';
import { DAY2_STATES, comparePlan, dryRunDiff, isRejection } from './plan.js';
import type { ConfigPort, DesiredState, NodeHealthGate, RebootGate } from './ports.js';
import { configSha256, redactDiff } from './redact.js';

export type ApplyOutcome =
  | { node: string; kind: 'unchanged' }
  | { node: string; kind: 'applied'; mode: ApplyMode; modeDetails: string; gate?: string }
  | { node: string; kind: 'rejected'; reason: string; before?: boolean }
  | { node: string; kind: 'needs-reboot' }
  /** The inventory moved the node's Talos or Kubernetes version too: that goes through the upgrade rollout, not a config apply. */
  | { node: string; kind: 'needs-upgrade'; reason: string }
  | { node: string; kind: 'held'; reason: string }
  | { node: string; kind: 'error'; reason: string };

export interface RolloutDeps {
  store: Store;
  desired: DesiredState;
  port: ConfigPort;
  gate: NodeHealthGate;
  /** Asked before each rebooting apply; a refusal holds that node and the rest (nothing is sent). */
  beforeReboot?: RebootGate;
  /** Who asked: `cli:<user>`, `admin-page`, `auto-apply`; recorded on every event. */
  actor: string;
  log?: Logger;
}

export interface RolloutOptions {
  /** Apply only what Talos can take without a reboot (day2.autoApply: no-reboot); reboot nodes are reported, not touched. */
  noRebootOnly?: boolean;
}

interface Candidate { node: NodeRecord; config: Buffer; sha: string; mode: ApplyMode }

export class ConfigRollout {
  constructor(private readonly deps: RolloutDeps) {}

  private event(node: NodeRecord, message: string, data: object): void {
    this.deps.store.appendEvent({ node: node.name, mac: node.mac, kind: 'day2', message, data: { actor: this.deps.actor, ...data } });
    this.deps.log?.info({ node: node.name, actor: this.deps.actor, ...data }, message);
  }

  private rejected(node: NodeRecord, sha: string, details: string): ApplyOutcome {
    const reason = redactDiff(details);
    recordRejected(this.deps.store, node.name, sha, reason);
    this.event(node, `Talos rejected the config (${sha.slice(0, 12)}); not retried until the inventory changes: ${reason}`, { sha256: sha, reason });
    return { node: node.name, kind: 'rejected', reason };
  }

  /** Renders, skips what is current or rejected, and dry-runs the rest to learn the mode. */
  private async prepare(node: NodeRecord): Promise<Candidate | ApplyOutcome> {
    let desired;
    try {
      desired = await this.deps.desired(node);
    } catch (err) {
      return { node: node.name, kind: 'error', reason: `cannot render the config: ${(err as Error).message}` };
    }
    const config = desired.config;
    const sha = configSha256(config);
    const applied = appliedConfigFor(this.deps.store, node.name);
    if (applied?.sha256 === sha) return { node: node.name, kind: 'unchanged' };
    // A new kubelet image or installer image applies in place in Talos's eyes, which would upgrade
    // every kubelet at once: version changes wait for the upgrade rollout, with its own gates.
    const p = comparePlan(node, desired, applied);
    const moved = ([['Talos version', p.talosVersion], ['schematic', p.schematic], ['Kubernetes version', p.kubernetesVersion]] as const)
      .filter(([, v]) => v.differs && v.running !== null).map(([k, v]) => `${k} ${v.running} → ${v.desired}`);
    if (moved.length) return { node: node.name, kind: 'needs-upgrade', reason: `${moved.join(', ')}: roll it out with rackboot upgrade first` };
    if (applied?.rejected?.sha256 === sha) return { node: node.name, kind: 'rejected', reason: applied.rejected.reason, before: true };
    try {
      const dry = await this.deps.port.apply(node, config, 'AUTO', { dryRun: true });
      if (dryRunDiff(dry.modeDetails).unchanged) {
        recordApplied(this.deps.store, node.name, config, { via: 'apply' });
        this.event(node, 'the node already runs the inventory\'s config; nothing sent', { sha256: sha });
        return { node: node.name, kind: 'unchanged' };
      }
      return { node, config, sha, mode: dry.mode };
    } catch (err) {
      if (isRejection(err)) return this.rejected(node, sha, err.details);
      return { node: node.name, kind: 'error', reason: `Talos did not answer: ${(err as Error).message}` };
    }
  }

  private async send(c: Candidate, mode: ApplyMode): Promise<ApplyOutcome> {
    try {
      const res = await this.deps.port.apply(c.node, c.config, mode, { dryRun: false });
      // A REBOOT reply's details carry CanApplyImmediate's diff of the config, secrets and all.
      const modeDetails = redactDiff(res.modeDetails);
      recordApplied(this.deps.store, c.node.name, c.config, { via: 'apply', mode: res.mode, modeDetails });
      this.event(c.node, `config ${c.sha.slice(0, 12)} applied: requested ${mode}, Talos chose ${res.mode}`,
        { sha256: c.sha, requested: mode, mode: res.mode, modeDetails, warnings: res.warnings });
      return { node: c.node.name, kind: 'applied', mode: res.mode, modeDetails };
    } catch (err) {
      if (isRejection(err)) return this.rejected(c.node, c.sha, err.details);
      this.event(c.node, `config apply failed: ${(err as Error).message}`, { sha256: c.sha, requested: mode });
      return { node: c.node.name, kind: 'error', reason: (err as Error).message };
    }
  }

  async run(names: string[] | 'all', opts: RolloutOptions = {}): Promise<ApplyOutcome[]> {
    const nodes = this.deps.store.listNodes().filter((n) => DAY2_STATES.includes(n.state) && (names === 'all' || names.includes(n.name)));
    const prepared = await Promise.all(nodes.map((n) => this.prepare(n)));
    const out: ApplyOutcome[] = prepared.filter((p): p is ApplyOutcome => !('config' in p));
    const candidates = prepared.filter((p): p is Candidate => 'config' in p);
    // No reboot: all at once. With noRebootOnly the request says so, so Talos refuses rather than reboots if it changed its mind.
    const inPlace = candidates.filter((c) => c.mode === 'NO_REBOOT');
    out.push(...(await Promise.all(inPlace.map((c) => this.send(c, opts.noRebootOnly ? 'NO_REBOOT' : 'AUTO')))));
    const reboots = candidates.filter((c) => c.mode !== 'NO_REBOOT')
      .sort((a, b) => Number(b.node.role === 'controlplane') - Number(a.node.role === 'controlplane'));
    if (opts.noRebootOnly) {
      out.push(...reboots.map((c) => ({ node: c.node.name, kind: 'needs-reboot' as const })));
      return out;
    }
    let holdReason: string | undefined;
    for (const c of reboots) {
      if (holdReason) {
        out.push({ node: c.node.name, kind: 'held', reason: holdReason });
        continue;
      }
      const mayGo = this.deps.beforeReboot ? await this.deps.beforeReboot(c.node) : undefined;
      if (mayGo && !mayGo.ok) {
        holdReason = `${c.node.name}: ${mayGo.reason}`;
        this.event(c.node, `rollout held before its rebooting apply: ${mayGo.reason}`, { sha256: c.sha, reason: mayGo.reason });
        out.push({ node: c.node.name, kind: 'held', reason: holdReason });
        continue;
      }
      const sent = await this.send(c, 'AUTO');
      if (sent.kind !== 'applied') {
        out.push(sent);
        if (sent.kind === 'error') holdReason = `${c.node.name}: ${sent.reason}`;
        continue;
      }
      const gate = await this.deps.gate(c.node, c.config);
      if (gate.ok) {
        this.event(c.node, `back and healthy after the config apply: ${gate.detail}`, { sha256: c.sha });
        out.push({ ...sent, gate: gate.detail });
      } else {
        holdReason = `${c.node.name} not healthy after its config apply: ${gate.reason}`;
        this.event(c.node, `rollout held: ${holdReason}`, { sha256: c.sha, reason: gate.reason });
        out.push({ node: c.node.name, kind: 'held', reason: holdReason });
      }
    }
    return out;
  }
}

export function formatOutcomes(outcomes: ApplyOutcome[]): string {
  return outcomes.map((o) => {
    switch (o.kind) {
      case 'unchanged': return `${o.node}: up to date`;
      case 'applied': return `${o.node}: applied, Talos chose ${o.mode}${o.gate ? `; ${o.gate}` : ''}`;
      case 'rejected': return `${o.node}: rejected by Talos${o.before ? ' (earlier; not retried until the inventory changes)' : ''}: ${o.reason}`;
      case 'needs-upgrade': return `${o.node}: not applied: ${o.reason}`;
      case 'needs-reboot': return `${o.node}: needs a reboot; not applied automatically (rackboot apply ${o.node})`;
      case 'held': return `${o.node}: held: ${o.reason}`;
      case 'error': return `${o.node}: ${o.reason}`;
    }
  }).join('\n');
}
