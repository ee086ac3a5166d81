// A Kubernetes roll shared by two appliances on one real PostgreSQL: A, the
// leader, is killed right after one step's config apply was recorded as
// sent; B leads and finishes the roll from the stored steps, and every
// change reaches its node once (the fakes' upstream behaviour: k8s-roll.ts's
// header and src/lab/fake-talos/).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { kubeNodeNotReady, parseKubeconfig } from '../../src/day2/kube-node.js';
import { KubernetesRollout, planK8sRoll, type K8sRollDeps } from '../../src/day2/k8s-roll.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { rolloutsOf } from '../../src/store/pg/pg-rollouts.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { waitFor } from '../talos/helpers.js';
import { makeEtcdRack } from './etcd-rack.js';
import { readyKubeApi } from './upgrade-rig.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

class Killed extends Error {}

it('the leader killed after a step\'s apply: the new leader finishes the roll, each change applied once', async () => {
  const rack = await makeEtcdRack(3, 0, { firstHost: 212 });
  const dir = mkdtempSync(join(tmpdir(), 'rb-pgk8s-'));
  const kube = await readyKubeApi(rack, join(dir, 'kubeconfig'));
  const conninfo = pg.createDatabase('k8s_roll_shared');
  const open = (name: string) => {
    const store = new SharedStore(join(dir, `${name}.db`), conninfo);
    return { store, coord: new PgCoordination({ conninfo, local: store, leaseMs: 60_000 }) };
  };
  const a = open('a');
  const b = open('b');
  try {
    expect(await a.coord.lead()).toBe(true);
    const endpointOf = (n: string) => rack.fakes.get(n)?.endpoint;
    const access = parseKubeconfig(kube.kubeconfig(rack.pki.admin));
    const deps = (x: typeof a, extra: Partial<K8sRollDeps> = {}): K8sRollDeps => ({
      db: x.store, driver: () => x.coord.sessionPid(), connect: rack.connect, endpointOf,
      controlPlanes: () => ['cp1', 'cp2', 'cp3'].map((name) => ({ name, endpoint: endpointOf(name)! })),
      kubeNodeNotReady: (n) => kubeNodeNotReady(access, n, 2000), returnTimeoutMs: 3000, pollMs: 30, ...extra,
    });
    const id = planK8sRoll(b.store, ['cp1', 'cp2', 'cp3'].map((name) => ({ name, role: 'controlplane' as const })), '1.35.2');
    const crash = (row: string, step: string) => {
      if (row === 'kube-apiserver@cp2' && step === 'called') throw new Killed('A killed after the apply');
    };
    await expect(new KubernetesRollout(deps(a, { checkpoint: crash })).run(id)).rejects.toThrow(Killed);
    // A applied the first two steps (kube-apiserver on cp1 and cp2) before it was killed.
    const appliedByA = [...rack.fakes.values()].map((f) => f.applied.length);
    await a.coord.killSession();
    await waitFor(() => b.coord.lead(), 10_000, 'B leads');

    const r = await new KubernetesRollout(deps(b)).run(id);
    expect(r.state).toBe('done');
    expect(rolloutsOf(b.store).nodes(id).every((n) => n.state === 'done')).toBe(true);
    // First contact's config, then one apply per step: 5 per control plane, none of them twice.
    expect([...rack.fakes.values()].map((f) => f.applied.length)).toEqual([6, 6, 6]);
    expect(appliedByA).toEqual([2, 2, 1]);
  } finally {
    await a.coord.close();
    await b.coord.close();
    a.store.close();
    b.store.close();
    await kube.close();
    await rack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
