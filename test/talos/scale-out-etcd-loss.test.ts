// etcd loss with two appliances driving one fake rack on one PostgreSQL:
// appliance B confirms the reimage of the last etcd member; the standby's
// pass (B) resets nothing, the leader's pass (A) resets the shared bootstrap
// keys from the shared request, and no second Bootstrap is sent before the
// node is installed again. Then end to end: the leader resets the node, it
// is installed again, and exactly one second Bootstrap is sent, even when
// the leader is killed between recording the intent and sending the call, or
// between the call and recording its outcome: the new leader asks the
// node's etcd first (src/talos/bootstrap.ts).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterStateStore } from '../../src/store/cluster-state-store.js';
import type { PgCoordination } from '../../src/store/pg/coordination.js';
import type { Inventory } from '../../src/inventory/types.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, etcdMembers } from '../../src/lifecycle/cluster-state.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import type { PassReport } from '../../src/talos/orchestrator.js';
import { pxeBooted } from './cluster-fixture.js';
import { waitFor } from './helpers.js';
import { useScaleOutRig } from './scale-out-rig.js';

const rig = useScaleOutRig();

class Killed extends Error {}

/**
 * The leader's shared state, with a kill switch: once armed, the write of
 * `key` = `value` ends the leader's database session (its lock goes) either
 * right after the write lands ('after') or in its place ('instead'), and the
 * leader's pass stops there, as a kill -9 would stop it.
 */
function killable(coord: PgCoordination) {
  const kill = { armed: undefined as { key: string; value: string; when: 'after' | 'instead' } | undefined };
  const state: ClusterStateStore = {
    get: (k) => coord.get(k),
    claim: (k, o, n, t) => coord.claim(k, o, n, t),
    release: (k, o) => coord.release(k, o),
    async set(key, value) {
      const at = kill.armed;
      const hit = at && at.key === key && at.value === value;
      if (!hit || at.when === 'after') await coord.set(key, value);
      if (hit) {
        kill.armed = undefined;
        await coord.killSession();
        throw new Killed(`killed at ${key}=${value}`);
      }
    },
  };
  return { kill, state };
}

/** cp1 bootstrapped by A, then B confirms an etcd-loss reimage of it and A's pass applies the request. */
async function etcdLost() {
  {
    const r = await rig.rack(['controlplane']);
    const conninfo = rig.database('etcd_loss');
    const inventory = { cluster: { name: 't' }, nodes: r.store.listNodes().map((n) => n.spec) } as unknown as Inventory;
    const open = (name: string) => {
      const s = new SharedStore(join(r.dir, `${name}.db`), conninfo);
      s.syncInventory(inventory);
      return s;
    };
    let killA!: ReturnType<typeof killable>['kill'];
    const a = rig.appliance(r, 'a', conninfo, { store: open('a'), clusterState: (coord) => { const k = killable(coord); killA = k.kill; return k.state; } });
    const b = rig.appliance(r, 'b', conninfo, { store: open('b') });
    // cp1 installed by the rack's own orchestrator (bootstrap held back), then recorded so in the shared store.
    r.fakes.get('cp1')!.faults.status.ServiceList = { code: 14, details: 'not yet', times: 1e6 };
    pxeBooted(r, 'cp1');
    const setup = r.orchestrator();
    for (let i = 0; i < 30 && r.store.getNode('cp1')!.state !== 'installed'; i++) await setup.pass();
    await setup.close();
    r.fakes.get('cp1')!.faults.status = {};
    a.store.setState('cp1', 'installed', 'installed (test)', { markedForInstall: false });
    // A leads from its first pass; it installs and bootstraps cp1.
    let pass = await a.orch.pass();
    for (let i = 0; i < 60 && pass.bootstrap.kind !== 'bootstrapped'; i++) pass = await a.orch.pass();
    expect(pass.bootstrap).toMatchObject({ kind: 'bootstrapped', node: 'cp1', sent: true });
    expect(r.totalBootstraps()).toBe(1);
    for (let i = 0; i < 60 && pass.health.kind !== 'ready'; i++) pass = await a.orch.pass();
    expect(pass.health.kind).toBe('ready');
    // The leader's health check recorded etcd's members where the standby reads them.
    expect(etcdMembers(b.store)).toEqual(['cp1']);
    expect((await b.orch.pass()).standby).toBe(true);

    new Reimager(new StateMachine(b.store)).mark('cp1', 'disk swap', 'ops', { destroyEtcd: true });
    expect((await b.orch.pass()).standby).toBe(true);
    expect(await a.coord.get(BOOTSTRAP_KEY)).toBe('bootstrapped');

    const after = await a.orch.pass();
    expect(after.standby).toBe(false);
    expect(await a.coord.get(BOOTSTRAP_KEY)).toBe('pending');
    expect(await a.coord.get(BOOTSTRAP_NODE_KEY)).toBe('cp1');
    expect(etcdMembers(b.store)).toEqual([]);
    // cp1 is being reimaged: nothing to bootstrap yet.
    expect(after.bootstrap.kind).toBe('waiting');
    expect(r.totalBootstraps()).toBe(1);
    return { r, a, b, killA };
  }
}

/** The leader resets cp1; it reboots wiped and is installed again (bootstrap held back meanwhile). */
async function reinstalled(r: Awaited<ReturnType<typeof etcdLost>>['r'], leader: Awaited<ReturnType<typeof etcdLost>>['a']): Promise<void> {
  for (let i = 0; i < 30 && leader.store.getNode('cp1')!.state !== 'wiping'; i++) await leader.orch.pass();
  expect(leader.store.getNode('cp1')!.state).toBe('wiping');
  const fake = r.fakes.get('cp1')!;
  await waitFor(() => fake.mode === 'maintenance', 5000, 'cp1 rebooted wiped');
  expect(r.etcd.members.size).toBe(0);
  // The install itself by the rack's own orchestrator (it can render configs), on A's shared store; etcd
  // answers nothing meanwhile, so no bootstrap is attempted outside the leader.
  fake.faults.status.ServiceList = { code: 14, details: 'not yet', times: 1e6 };
  leader.store.setState('cp1', 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
  const installer = r.orchestrator({ store: leader.store, states: new StateMachine(leader.store) });
  try {
    for (let i = 0; i < 60 && leader.store.getNode('cp1')!.state !== 'installed'; i++) {
      await installer.pass();
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await installer.close();
  }
  fake.faults.status = {};
  expect(leader.store.getNode('cp1')!.state).toBe('installed');
  expect(r.totalBootstraps()).toBe(1);
}

/** The leader's passes until the armed write kills it; then it is gone. */
async function leaderKilledAt(a: Awaited<ReturnType<typeof etcdLost>>['a'], kill: Awaited<ReturnType<typeof etcdLost>>['killA'],
  at: NonNullable<ReturnType<typeof killable>['kill']['armed']>): Promise<void> {
  kill.armed = at;
  await expect((async () => { for (let i = 0; i < 30; i++) await a.orch.pass(); })()).rejects.toThrow(Killed);
  await a.orch.close();
}

/** B's passes until it leads and the bootstrap is recorded; returns that pass. */
async function bTakesOver(b: Awaited<ReturnType<typeof etcdLost>>['b']): Promise<PassReport> {
  let p: PassReport | undefined;
  for (let i = 0; i < 100 && !(p && !p.standby && p.bootstrap.kind === 'bootstrapped'); i++) {
    p = await b.orch.pass();
    if (p.standby) await new Promise((res) => setTimeout(res, 50));
  }
  expect(p?.standby).toBe(false);
  return p!;
}

describe('etcd loss on two appliances', () => {
  it("the leader's pass resets the shared bootstrap for B's confirmed request; the standby's does not", async () => {
    await etcdLost();
  });

  it('end to end: the leader killed between the recorded intent and the second Bootstrap; the new leader asks etcd and sends exactly one', async () => {
    const { r, a, b, killA } = await etcdLost();
    await reinstalled(r, a);
    await leaderKilledAt(a, killA, { key: BOOTSTRAP_KEY, value: 'bootstrapping', when: 'after' });
    expect(await b.coord.get(BOOTSTRAP_KEY)).toBe('bootstrapping');
    expect(r.totalBootstraps()).toBe(1);

    const taken = await bTakesOver(b);
    expect(taken.bootstrap).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: true });
    expect(r.totalBootstraps()).toBe(2);
    expect(r.fakes.get('cp1')!.bootstrapCalls).toBe(2);
    expect([...r.etcd.members.keys()]).toEqual(['cp1']);
    expect(await b.coord.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
    // The recovery request was applied once; B's passes do not apply it again.
    for (let i = 0; i < 5; i++) expect((await b.orch.pass()).bootstrap.kind).toBe('bootstrapped');
    expect(r.totalBootstraps()).toBe(2);
  });

  it('end to end: the leader killed after the second Bootstrap, before recording it; the new leader finds etcd running and sends none', async () => {
    const { r, a, b, killA } = await etcdLost();
    await reinstalled(r, a);
    await leaderKilledAt(a, killA, { key: BOOTSTRAP_KEY, value: 'bootstrapped', when: 'instead' });
    expect(r.totalBootstraps()).toBe(2);
    expect(await b.coord.get(BOOTSTRAP_KEY)).toBe('bootstrapping');

    const taken = await bTakesOver(b);
    expect(taken.bootstrap).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    for (let i = 0; i < 5; i++) await b.orch.pass();
    expect(r.totalBootstraps()).toBe(2);
    expect(await b.coord.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
  });
});
