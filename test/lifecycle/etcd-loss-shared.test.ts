// etcd-loss recovery with two appliances on one PostgreSQL: the reimage of
// the last etcd member, confirmed on appliance B, only records the request
// in the shared cluster_state; the shared bootstrap keys are reset by the
// leader (A) under its lock, once per request; B cannot reset them while A
// leads; a request cancelled before the leader saw it changes nothing, one
// cancelled after puts the records back. Without a request nothing resets.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY, bootstrapState } from '../../src/lifecycle/cluster-state.js';
import { applyEtcdLossRecovery } from '../../src/lifecycle/etcd-loss.js';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { tempDirs } from '../helpers/tmp.js';
import { inventory, nodeSpec } from './fixtures.js';

const tmp = tempDirs('rb-etcd-loss-');
let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

async function twoAppliances(db: string) {
  const conninfo = pg.createDatabase(db);
  const a = new SharedStore(join(tmp(), 'a.db'), conninfo);
  const b = new SharedStore(join(tmp(), 'b.db'), conninfo);
  const coordA = new PgCoordination({ conninfo, local: a });
  const coordB = new PgCoordination({ conninfo, local: b });
  a.syncInventory(inventory([nodeSpec('cp-1', 'aa:bb:cc:00:00:01', 'controlplane'), nodeSpec('w-1', 'aa:bb:cc:00:00:02')]));
  expect(await coordA.lead()).toBe(true);
  expect(await coordB.lead()).toBe(false);
  await coordA.set(BOOTSTRAP_KEY, 'bootstrapped');
  await coordA.set(BOOTSTRAP_NODE_KEY, 'cp-1');
  a.setState('cp-1', 'ready', 'healthy', { markedForInstall: false });
  const close = async () => {
    await coordA.close();
    await coordB.close();
    a.close();
    b.close();
  };
  return { a, b, coordA, coordB, close };
}

describe('etcd-loss recovery on a shared store', () => {
  it('B records the confirmed request; only the leader resets the shared keys, once', async () => {
    const { a, b, coordA, coordB, close } = await twoAppliances('etcd_loss_apply');
    try {
      const reimager = new Reimager(new StateMachine(b));
      // B sees the shared bootstrap: cp-1 is the last member and needs the confirmation.
      expect(() => reimager.mark('cp-1', 'disk swap', 'ops')).toThrow(/last etcd member/);
      expect(reimager.mark('cp-1', 'disk swap', 'ops', { destroyEtcd: true }).etcdDestroyed).toBe(true);
      // Nothing is reset by the appliance that marked it, not even its own view.
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
      expect(bootstrapState(b)).toBe('bootstrapped');
      // B does not lead: it cannot apply the request.
      await expect(applyEtcdLossRecovery(b, coordB)).rejects.toThrow(/not leading/);
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
      // The leader does, once.
      expect(await applyEtcdLossRecovery(a, coordA)).toBe('reset');
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('pending');
      expect(await coordA.get(BOOTSTRAP_NODE_KEY)).toBe('cp-1');
      expect(bootstrapState(b)).toBe('pending');
      expect(a.getClusterState('talos.kubeconfig.stale')).toBe('true');
      await coordA.set(BOOTSTRAP_KEY, 'bootstrapped'); // bootstrapped again after the reinstall
      expect(await applyEtcdLossRecovery(a, coordA)).toBeUndefined();
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
    } finally {
      await close();
    }
  });

  it('a cancel before the leader applied changes nothing; after, the records come back', async () => {
    const { a, b, coordA, close } = await twoAppliances('etcd_loss_cancel');
    try {
      const reimager = new Reimager(new StateMachine(b));
      reimager.mark('cp-1', 'oops', 'ops', { destroyEtcd: true });
      reimager.cancel('cp-1', 'ops');
      expect(await applyEtcdLossRecovery(a, coordA)).toBeUndefined();
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
      expect(b.getNode('cp-1')!.state).toBe('ready');

      reimager.mark('cp-1', 'disk swap', 'ops', { destroyEtcd: true });
      expect(await applyEtcdLossRecovery(a, coordA)).toBe('reset');
      reimager.cancel('cp-1', 'ops');
      expect(await applyEtcdLossRecovery(a, coordA)).toBe('restored');
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
      expect(await coordA.get(BOOTSTRAP_NODE_KEY)).toBe('cp-1');
      expect(await applyEtcdLossRecovery(a, coordA)).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('without a request in the shared state, a local reset changes nothing shared', async () => {
    const { a, b, coordA, close } = await twoAppliances('etcd_loss_none');
    try {
      b.setClusterState(BOOTSTRAP_KEY, 'pending'); // some appliance's local copy says pending
      expect(await applyEtcdLossRecovery(a, coordA)).toBeUndefined();
      expect(await coordA.lead()).toBe(true); // the leader's pass copies the shared keys down
      expect(await coordA.get(BOOTSTRAP_KEY)).toBe('bootstrapped');
      expect(bootstrapState(b)).toBe('bootstrapped');
    } finally {
      await close();
    }
  });
});
