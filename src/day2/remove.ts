// `rackboot remove NODE`: takes an installed node out of the cluster for
// good. The node must be out of the inventory first (that alone never wipes
// anything). Then:
// - a control plane's etcd must keep quorum without it (judgeRemoval);
// - the removal is recorded: that record is what allows the Reset below;
// - a control plane forfeits etcd leadership and leaves etcd (upstream
//   machined's EtcdForfeitLeadership / EtcdLeaveCluster);
// - Reset, graceful, wiping STATE and EPHEMERAL, reboot; the node comes back
//   in maintenance mode, which is waited for;
// - the store forgets it.
// --force is for a dead node: its etcd member is removed by ID through a
// healthy control plane (EtcdRemoveMemberByID), nothing is sent to the node
// itself, and the store forgets it.
import type Database from 'better-sqlite3';
import type { Store } from '../store/store.js';
import type { TalosClient } from '../talos/client.js';
import { isCode } from '../talos/errors.js';
import { WIPE_PARTITIONS } from '../talos/reset.js';
import { etcdHealth, judgeRemoval, type ControlPlane } from './quorum-gate.js';

export interface RemoveDeps {
  store: Store;
  connect: (endpoint: string) => TalosClient;
  endpointOf: (node: string) => string | undefined;
  /** Whether the node's maintenance API answers (it was wiped and rebooted). */
  inMaintenance: (endpoint: string) => Promise<boolean>;
  maintenanceTimeoutMs: number;
  pollMs: number;
}

export class RemoveError extends Error {
  override name = 'RemoveError';
}

type Step = 'requested' | 'left-etcd' | 'reset-sent';

function record(db: Database.Database, node: string, step: Step, force: boolean): void {
  const now = Date.now();
  db.prepare(`INSERT INTO removals (node, step, force, requested_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(node) DO UPDATE SET step = excluded.step, updated_at = excluded.updated_at`).run(node, step, force ? 1 : 0, now, now);
}

export function removalStep(db: Database.Database, node: string): Step | undefined {
  return (db.prepare('SELECT step FROM removals WHERE node = ?').get(node) as { step: Step } | undefined)?.step;
}

async function call<T>(deps: RemoveDeps, endpoint: string, fn: (c: TalosClient) => Promise<T>): Promise<T> {
  const c = deps.connect(endpoint);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Runs the removal; returns what it did, line by line. Throws RemoveError with the reason it stopped. */
export async function removeNode(deps: RemoveDeps, name: string, opts: { force?: boolean } = {}): Promise<string[]> {
  const { store } = deps;
  const db = store.db;
  const force = opts.force === true;
  const node = store.getNode(name);
  if (!node) throw new RemoveError(`${name} is not known to rackboot`);
  if (node.inInventory) throw new RemoveError(`${name} is still in the inventory: delete it there first (that alone never wipes it), then run rackboot remove`);
  const done: string[] = [];
  const endpoint = deps.endpointOf(name);
  if (!endpoint && !force) throw new RemoveError(`no address known for ${name}; a dead node is removed with --force`);
  const others: ControlPlane[] = store.listNodes({ includeRemoved: true })
    .filter((n) => n.role === 'controlplane' && n.name !== name)
    .flatMap((n) => { const ep = deps.endpointOf(n.name); return ep ? [{ name: n.name, endpoint: ep }] : []; });
  let step = removalStep(db, name);

  if (node.role === 'controlplane' && (step === undefined || step === 'requested')) {
    const seen = await etcdHealth(endpoint ? [...others, { name, endpoint }] : others, deps.connect);
    if ('error' in seen) throw new RemoveError(seen.error);
    const member = seen.members.find((m) => m.name === name);
    if (member) {
      const verdict = judgeRemoval(seen.members, name);
      if (!verdict.ok) throw new RemoveError(`quorum: ${verdict.reason}`);
      record(db, name, 'requested', force);
      step = 'requested';
      if (force) {
        const via = seen.members.find((m) => m.healthy && m.name !== name)!;
        const ep = others.find((o) => o.name === via.name)!.endpoint;
        await call(deps, ep, (c) => c.etcdRemoveMemberById(member.id)).catch((err) => {
          if (!isCode(err, 5)) throw err; // NotFound: already gone
        });
        done.push(`removed etcd member ${member.id} (${name}) through ${via.name}`);
      } else {
        const to = await call(deps, endpoint!, (c) => c.etcdForfeitLeadership());
        done.push(to ? `${name} handed etcd leadership to ${to}` : `${name} did not lead etcd`);
        await call(deps, endpoint!, (c) => c.etcdLeaveCluster());
        done.push(`${name} left etcd`);
      }
      record(db, name, 'left-etcd', force);
      step = 'left-etcd';
    } else {
      done.push(`${name} is not an etcd member`);
    }
  }
  if (step === undefined) {
    record(db, name, 'requested', force);
    step = 'requested';
  }
  if (!force && step !== 'reset-sent') {
    // The record above is the mark that allows this wipe: nothing else resets a node being removed.
    if (!removalStep(db, name)) throw new RemoveError(`${name} is not marked for removal`);
    await call(deps, endpoint!, (c) => c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: WIPE_PARTITIONS }));
    record(db, name, 'reset-sent', force);
    done.push(`Reset sent to ${name} (graceful, wiping ${WIPE_PARTITIONS.join(', ')}, reboot)`);
    step = 'reset-sent';
  }
  if (!force) {
    const end = Date.now() + deps.maintenanceTimeoutMs;
    while (!(await deps.inMaintenance(endpoint!))) {
      if (Date.now() > end) throw new RemoveError(`${name} was reset but is not in maintenance mode after ${deps.maintenanceTimeoutMs} ms; run rackboot remove again to keep waiting`);
      await new Promise((r) => setTimeout(r, deps.pollMs));
    }
    done.push(`${name} is in maintenance mode`);
  }
  db.transaction(() => {
    store.appendEvent({ node: name, mac: node.mac, kind: 'removed', message: `${name} removed from the cluster${force ? ' (forced)' : ''} and forgotten`, data: { force } });
    db.prepare('DELETE FROM nodes WHERE name = ?').run(name);
    db.prepare('DELETE FROM removals WHERE node = ?').run(name);
  })();
  done.push(`rackboot forgot ${name}`);
  return done;
}
