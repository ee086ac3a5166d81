// Starting and resuming an upgrade rollout (the rows day2/rollout.ts runs).
import type Database from 'better-sqlite3';
import { NoAddressError, withTalosClient, type ConnectTalos } from '../talos/endpoints.js';
import type { RolloutRecord } from '../store/rollouts.js';
import { rolloutsOf } from '../store/pg/pg-rollouts.js';
import type { Store } from '../store/store.js';

export interface PlanDeps {
  /** Where the rollout rows are: a store (PostgreSQL's with scaleOut.postgres) or a SQLite handle. */
  db: Database.Database | Store;
  connect: ConnectTalos;
  endpointOf: (node: string) => string | undefined;
  /** The schematic rackboot recorded for the node (node_config.installer_image); undefined: unknown, so the node is included. */
  recordedSchematic?: (node: string) => string | undefined;
}

export interface UpgradeTarget { version: string; schematic: string; image: string }

/**
 * Records a rollout of `nodes` (control planes first, in the order given,
 * then workers) to `target`, with each node's version now. A node counts
 * as there already only on the target version with the target schematic
 * recorded: a new schematic at the same version is rolled out too. Every node must
 * answer: a rollout is never planned around a node whose version is unknown.
 */
export async function planUpgrade(deps: PlanDeps, nodes: { name: string; role: 'controlplane' | 'worker' }[], target: UpgradeTarget): Promise<number> {
  const rollouts = rolloutsOf(deps.db);
  const open = rollouts.active();
  if (open) throw new Error(`rollout ${open.id} (${open.kind} to ${open.targetVersion}) is ${open.state}: \`rackboot upgrade --resume\` it first`);
  if (nodes.length === 0) throw new Error('no installed nodes to upgrade');
  const ordered = [...nodes.filter((n) => n.role === 'controlplane'), ...nodes.filter((n) => n.role === 'worker')];
  const rows = [];
  for (const n of ordered) {
    let version: string;
    try {
      version = await withTalosClient(deps.connect, deps.endpointOf(n.name), `${n.name}: no address known`, async (c) => (await c.version()).version.tag);
    } catch (err) {
      if (err instanceof NoAddressError) throw err;
      throw new Error(`${n.name} does not answer its version: ${(err as Error).message}`);
    }
    rows.push({ node: n.name, role: n.role, versionBefore: version, done: version === target.version && deps.recordedSchematic?.(n.name) === target.schematic });
  }
  return rollouts.create({ kind: 'talos', targetVersion: target.version, schematic: target.schematic, image: target.image, nodes: rows });
}

/**
 * The operator's --resume: a paused rollout runs again, and nodes marked
 * failed (refused, installer failed, or unknown whether the call got
 * through) go back to pending, so their upgrade is sent again. A running
 * rollout is left as it is.
 */
export function resumeRollout(at: Database.Database | Store): RolloutRecord {
  const db = rolloutsOf(at);
  const r = db.active();
  if (!r) throw new Error('no rollout to resume');
  if (r.state === 'paused') {
    db.transaction(() => {
      for (const n of db.nodes(r.id)) if (n.state === 'failed') db.setNodeStep(r.id, n.node, 'pending', { reason: `resumed after: ${n.reason}` });
      db.setState(r.id, 'running');
    });
  }
  return db.get(r.id)!;
}

/** The operator's pause: a running rollout stops before its next node (the node in progress finishes its step). */
export function pauseRollout(at: Database.Database | Store, reason = 'paused by the operator'): RolloutRecord {
  const db = rolloutsOf(at);
  const r = db.active();
  if (!r) throw new Error('no rollout to pause');
  if (r.state === 'running') db.setState(r.id, 'paused', reason);
  return db.get(r.id)!;
}
