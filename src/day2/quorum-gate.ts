// The etcd gate before taking a control plane down (upgrade, removal).
// Upstream Talos checks the same before an upgrade of a control plane, in
// Client.ValidateForUpgrade (internal/pkg/etcd/etcd.go, v1.11.5..v1.13.0,
// called by machined's Upgrade handler unless forced):
// - exactly 2 members is refused: losing either loses quorum
//   ("etcd member count(2) is insufficient to maintain quorum if upgrade
//   commences");
// - a member without a name has never started: every member must run;
// - every member must answer a quorum read (ValidateQuorum): healthy.
// rackboot adds the arithmetic the 2-member rule is a case of: the healthy
// members left once the node goes down must still be a majority of all
// members. So a single-member etcd is refused too unless the operator says
// that a short etcd outage is acceptable (upstream lets it through).
// rackboot cannot reach etcd directly, only each control plane's Talos API:
// a member is healthy when the node of the same hostname answers EtcdStatus
// for that member id and sees a leader.
import type { TalosClient } from '../talos/client.js';

export interface MemberHealth {
  id: string;
  /** etcd's member name: the node's hostname; empty for a member that never started. */
  name: string;
  healthy: boolean;
  /** Why not healthy. */
  problem?: string;
}

export type QuorumVerdict = { ok: true; members: MemberHealth[] } | { ok: false; reason: string; members: MemberHealth[] };

export interface GateOptions {
  /** The member (name) about to go down; undefined for a worker, which takes no member down. */
  takingDown?: string;
  /** Let a one-member etcd through (it is down while its only node reboots). */
  allowSingleMember?: boolean;
}

/** The gate's decision over the members' health. Pure. */
export function judgeQuorum(members: MemberHealth[], opts: GateOptions = {}): QuorumVerdict {
  const no = (reason: string): QuorumVerdict => ({ ok: false, reason, members });
  const n = members.length;
  if (n === 0) return no('etcd has no members (not bootstrapped, or no control plane answers)');
  if (n === 2) {
    return no('etcd has 2 members: taking either down loses quorum (upstream Talos refuses this too: internal/pkg/etcd/etcd.go ValidateForUpgrade); add a third control plane or remove one first');
  }
  const unstarted = members.find((m) => m.name === '');
  if (unstarted) return no(`etcd member ${unstarted.id} is not started: every member must run first`);
  const sick = members.filter((m) => !m.healthy);
  if (sick.length) return no(`etcd member(s) not healthy: ${sick.map((m) => `${m.name} (${m.problem ?? 'unhealthy'})`).join('; ')}`);
  if (opts.takingDown === undefined) return { ok: true, members };
  const majority = Math.floor(n / 2) + 1;
  const left = members.filter((m) => m.healthy && m.name !== opts.takingDown).length;
  if (left < majority) {
    if (n === 1 && opts.allowSingleMember) return { ok: true, members };
    return no(`with ${opts.takingDown} down ${left} of ${n} etcd members stay healthy, fewer than the ${majority} a quorum needs`
      + (n === 1 ? ' (a one-member etcd is down while its node reboots: allow it explicitly)' : ''));
  }
  return { ok: true, members };
}

export interface ControlPlane { name: string; endpoint: string }

/** Asks the control planes about etcd and judges. Never throws: an unreachable cluster is a refusal. */
export async function checkQuorum(cps: ControlPlane[], connect: (endpoint: string) => TalosClient, opts: GateOptions = {}): Promise<QuorumVerdict> {
  const seen = await etcdHealth(cps, connect);
  return 'error' in seen ? { ok: false, reason: seen.error, members: [] } : judgeQuorum(seen.members, opts);
}

/** Every etcd member with its health, as the control planes' Talos APIs report them. */
export async function etcdHealth(cps: ControlPlane[], connect: (endpoint: string) => TalosClient): Promise<{ members: MemberHealth[] } | { error: string }> {
  let list: { id: string; hostname: string }[] | undefined;
  const errors: string[] = [];
  for (const cp of cps) {
    const c = connect(cp.endpoint);
    try {
      list = await c.etcdMemberList({ retry: false });
      break;
    } catch (err) {
      errors.push(`${cp.name}: ${(err as Error).message}`);
    } finally {
      c.close();
    }
  }
  if (!list) return { error: `no control plane lists the etcd members (${errors.join('; ') || 'none in the inventory'})` };
  const members = await Promise.all(list.map(async (m): Promise<MemberHealth> => {
    const id = String(m.id);
    const cp = cps.find((x) => x.name === m.hostname);
    if (!m.hostname) return { id, name: '', healthy: false, problem: 'not started' };
    if (!cp) return { id, name: m.hostname, healthy: false, problem: 'no node of that name in the inventory to ask' };
    const c = connect(cp.endpoint);
    try {
      const s = await c.etcdStatus();
      if (String(s.member_id) !== id) return { id, name: m.hostname, healthy: false, problem: `the node answers for member ${s.member_id}` };
      if (s.leader === '0' || !s.leader) return { id, name: m.hostname, healthy: false, problem: 'sees no leader' };
      if (s.errors.length) return { id, name: m.hostname, healthy: false, problem: s.errors.join(', ') };
      return { id, name: m.hostname, healthy: true };
    } catch (err) {
      return { id, name: m.hostname, healthy: false, problem: (err as Error).message };
    } finally {
      c.close();
    }
  }));
  return { members };
}

/**
 * Whether `name` can leave etcd: the removal itself is a change etcd commits
 * with a quorum of today's members, and the members left must still have a
 * healthy majority among themselves. (Taking a member out of 2 leaves 1,
 * which is its own majority; out of 3 with one dead leaves 1 of 2: refused.)
 */
export function judgeRemoval(members: MemberHealth[], name: string): QuorumVerdict {
  const no = (reason: string): QuorumVerdict => ({ ok: false, reason, members });
  const n = members.length;
  const healthy = members.filter((m) => m.healthy).length;
  if (healthy < Math.floor(n / 2) + 1) return no(`etcd has no quorum now (${healthy} of ${n} members healthy)`);
  const rest = members.filter((m) => m.name !== name);
  const restHealthy = rest.filter((m) => m.healthy).length;
  if (rest.length === 0) return no(`${name} is the only etcd member: removing it destroys the cluster's etcd`);
  if (restHealthy < Math.floor(rest.length / 2) + 1) {
    return no(`without ${name} ${restHealthy} of ${rest.length} etcd members are healthy, not a majority: ${rest.filter((m) => !m.healthy).map((m) => `${m.name} (${m.problem ?? 'unhealthy'})`).join('; ')}`);
  }
  return { ok: true, members };
}
