// etcd loss with two appliances driving one fake rack on one PostgreSQL:
// appliance B confirms the reimage of the last etcd member; the standby's
// pass (B) resets nothing, the leader's pass (A) resets the shared bootstrap
// keys from the shared request, and no second Bootstrap is sent before the
// node is installed again.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/types.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, etcdMembers } from '../../src/lifecycle/cluster-state.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { pxeBooted } from './cluster-fixture.js';
import { useScaleOutRig } from './scale-out-rig.js';

const rig = useScaleOutRig();

describe('etcd loss on two appliances', () => {
  it("the leader's pass resets the shared bootstrap for B's confirmed request; the standby's does not", async () => {
    const r = await rig.rack(['controlplane']);
    const conninfo = rig.database('etcd_loss');
    const inventory = { cluster: { name: 't' }, nodes: r.store.listNodes().map((n) => n.spec) } as unknown as Inventory;
    const open = (name: string) => {
      const s = new SharedStore(join(r.dir, `${name}.db`), conninfo);
      s.syncInventory(inventory);
      return s;
    };
    const a = rig.appliance(r, 'a', conninfo, { store: open('a') });
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
  });
});
