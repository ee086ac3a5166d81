// Two appliances on one PostgreSQL (a real PostgreSQL 15 started by the test)
// driving one rack of fake Talos nodes. Each has its own SQLite store with the
// same inventory; leadership and the bootstrap claim/intent/outcome are shared.
// Both want to bootstrap: one leads, one Bootstrap. The leader dies with its
// Bootstrap in flight: the other takes over from the shared intent, asks the
// node instead of sending again, and finishes the rollout.
import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, bootstrapState } from '../../src/lifecycle/cluster-state.js';
import { PsqlSession } from '../../src/store/pg/psql-session.js';
import { Store } from '../../src/store/store.js';
import type { PassReport } from '../../src/talos/orchestrator.js';
import { pxeBooted, type Rack } from './cluster-fixture.js';
import { useScaleOutRig, type Instance } from './scale-out-rig.js';
import { waitFor } from './helpers.js';

const rig = useScaleOutRig();

const NOT_YET = { code: 14, details: 'not yet', times: 1e6 };

/** Takes the rack to installed with bootstrap held back (etcd's ServiceList fails, so the guard waits), on the rack's own store. */
async function installed(r: Rack, ...names: string[]): Promise<void> {
  for (const n of names) r.fakes.get(n)!.faults.status.ServiceList = NOT_YET;
  pxeBooted(r, ...names);
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 30 && names.some((n) => !['installed', 'ready'].includes(r.store.getNode(n)!.state)); i++) {
      await orch.pass();
      if (bootstrapState(r.store) !== 'pending') throw new Error('bootstrapped too early for this test');
    }
  } finally {
    await orch.close();
  }
  for (const n of names) r.fakes.get(n)!.faults.status = {};
}

function instance(r: Rack, name: string, conninfo: string, store?: Store): Instance {
  return rig.appliance(r, name, conninfo, { store });
}

async function shared(conninfo: string, key: string): Promise<string | undefined> {
  const s = new PsqlSession(conninfo);
  try {
    return (await s.rows<{ value: string }>(`SELECT value FROM cluster_state WHERE key = '${key}'`))[0]?.value;
  } finally {
    await s.close();
  }
}

async function setup(): Promise<{ r: Rack; conninfo: string }> {
  const r = await rig.rack(['controlplane', 'worker']);
  await installed(r, 'cp1', 'w1');
  return { r, conninfo: rig.database('scale_out') };
}

describe('two appliances on one PostgreSQL', () => {
  it('both wanting to bootstrap: one leads, the other stands by, one Bootstrap in all', async () => {
    const { r, conninfo } = await setup();
    r.fakes.get('cp1')!.faults.delayMs.Bootstrap = 200;
    const a = instance(r, 'a', conninfo, r.store);
    const b = instance(r, 'b', conninfo);
    const [ra, rb] = await Promise.all([a.orch.pass(), b.orch.pass()]);
    const [leader, standby] = ra.standby ? [rb, ra] : [ra, rb];
    expect([ra.standby, rb.standby].sort()).toEqual([false, true]);
    expect(leader.bootstrap).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: true });
    expect(standby.bootstrap.kind).toBe('waiting');
    expect(r.totalBootstraps()).toBe(1);
    for (let i = 0; i < 3; i++) await Promise.all([a.orch.pass(), b.orch.pass()]);
    expect(r.totalBootstraps()).toBe(1);
    expect(await shared(conninfo, BOOTSTRAP_KEY)).toBe('bootstrapped');
  });

  it('the leader dies with its Bootstrap in flight: the standby resumes from the shared intent and sends none', async () => {
    const { r, conninfo } = await setup();
    const cp1 = r.fakes.get('cp1')!;
    cp1.faults.delayMs.Bootstrap = 2000; // long enough, on a loaded machine, for the checks below to run while it is in flight
    const a = instance(r, 'a', conninfo, r.store);
    const b = instance(r, 'b', conninfo);
    const inFlight = a.orch.pass();
    await waitFor(() => cp1.bootstrapCalls === 1, 5000, 'the leader sending Bootstrap');
    // While the leader's Bootstrap is in flight, the other appliance calls nothing at all.
    const allCalls = () => [...r.fakes.values()].map((f) => JSON.stringify(f.calls));
    const before = allCalls();
    const during = await b.orch.pass();
    expect(during.standby).toBe(true);
    expect(allCalls()).toEqual(before);
    expect(cp1.bootstrapCalls).toBe(1);
    expect(await shared(conninfo, BOOTSTRAP_KEY)).toBe('bootstrapping');

    // The leader dies (its database session first, as with kill -9), its call still on the wire.
    await a.coord.killSession();
    await a.orch.close();
    await inFlight.catch(() => undefined);
    await waitFor(() => r.etcd.members.has('cp1'), 8000, 'the node applying the Bootstrap it received');

    let taken: PassReport | undefined;
    for (let i = 0; i < 50 && !(taken && !taken.standby); i++) taken = await b.orch.pass();
    expect(taken?.standby).toBe(false);
    expect(taken?.bootstrap).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    expect(r.totalBootstraps()).toBe(1);
    expect(await shared(conninfo, BOOTSTRAP_KEY)).toBe('bootstrapped');
    expect(b.store.getClusterState(BOOTSTRAP_KEY)).toBe('bootstrapped');
    expect(b.store.getClusterState(BOOTSTRAP_NODE_KEY)).toBe('cp1');

    // The new leader finishes the rollout (health, kubeconfig) without a second Bootstrap.
    let last = taken!;
    for (let i = 0; i < 60 && last.health.kind !== 'ready'; i++) {
      await new Promise((res) => setTimeout(res, 20));
      last = await b.orch.pass();
    }
    expect(last.health.kind).toBe('ready');
    expect(r.totalBootstraps()).toBe(1);
  });
});
