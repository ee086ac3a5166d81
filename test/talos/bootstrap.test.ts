// The bootstrap guard on its own, against every Talos profile: an existing
// etcd is never bootstrapped again, a control plane waiting for its bootstrap
// (etcd service Preparing, member list failing, as upstream) gets exactly one,
// a cluster whose etcd runs on another control plane is never split, and two
// processes stepping at once send one Bootstrap between them.
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrapState, ClusterBootstrap } from '../../src/talos/bootstrap.js';
import { TalosClient } from '../../src/talos/client.js';
import { parseTalosconfig } from '../../src/talos/talosconfig.js';
import { Store } from '../../src/store/store.js';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../../src/lifecycle/cluster-state.js';
import { ALL_PROFILES, FAST, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const NOT_YET = { code: 14, details: 'not yet', times: 1e6 };

/** Takes the nodes to installed with the orchestrator's own bootstrap held back (their ServiceList fails, so its guard waits), then lets them answer. */
async function installed(r: Rack, ...names: string[]): Promise<void> {
  for (const n of names) r.fakes.get(n)!.faults.status.ServiceList = NOT_YET;
  pxeBooted(r, ...names);
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 30 && names.some((n) => r.store.getNode(n)!.state !== 'installed' && r.store.getNode(n)!.state !== 'ready'); i++) {
      await orch.pass();
      if (bootstrapState(r.store) !== 'pending') throw new Error('bootstrapped too early for this test');
    }
  } finally {
    await orch.close();
  }
  for (const n of names) r.fakes.get(n)!.faults.status = {};
}

function stepper(r: Rack, store: Store): ClusterBootstrap {
  const admin = { ca: r.pki.osCa.crt, crt: r.pki.admin.crt, key: r.pki.admin.key };
  return new ClusterBootstrap({ store, connect: (ep) => TalosClient.configured(ep, admin, { policy: FAST }), endpointOf: (n) => r.fakes.get(n.name)?.endpoint });
}

describe.each(ALL_PROFILES)('bootstrap guard, Talos %s', (profile) => {
  it('an etcd bootstrapped by hand is recorded, not bootstrapped again', async () => {
    rack = await makeRack(['controlplane'], { profile });
    await installed(rack, 'cp1');
    rack.etcd.join('cp1');
    const out = await stepper(rack, rack.store).step();
    expect(out).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    expect(rack.totalBootstraps()).toBe(0);
  });

  it('two processes stepping at once send one Bootstrap between them', async () => {
    rack = await makeRack(['controlplane'], { profile });
    await installed(rack, 'cp1');
    rack.fakes.get('cp1')!.faults.delayMs.Bootstrap = 200;
    const other = new Store(rack.dbFile);
    try {
      const [a, b] = await Promise.all([stepper(rack, rack.store).step(), stepper(rack, other).step()]);
      expect([a.kind, b.kind].sort()).toEqual(['bootstrapped', 'waiting']);
      expect(rack.totalBootstraps()).toBe(1);
      const again = await stepper(rack, other).step();
      expect(again.kind).toBe('bootstrapped');
      expect(rack.totalBootstraps()).toBe(1);
    } finally {
      other.close();
    }
  });

  it('sends Bootstrap to a control plane whose etcd waits for it (member list fails, never empty), once', async () => {
    rack = await makeRack(['controlplane'], { profile });
    await installed(rack, 'cp1');
    const admin = { ca: rack.pki.osCa.crt, crt: rack.pki.admin.crt, key: rack.pki.admin.key };
    const c = TalosClient.configured(rack.fakes.get('cp1')!.endpoint, admin, { policy: FAST });
    try {
      // What upstream shows before a bootstrap: an error, not an empty list; etcd Preparing.
      await expect(c.etcdMemberList({ queryLocal: true, retry: false })).rejects.toThrow();
      expect((await c.serviceList()).find((s) => s.id === 'etcd')).toMatchObject({ state: 'Preparing' });
    } finally {
      c.close();
    }
    expect(await stepper(rack, rack.store).step()).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: true });
    expect(await stepper(rack, rack.store).step()).toMatchObject({ kind: 'bootstrapped', sent: false });
    expect(rack.totalBootstraps()).toBe(1);
  });

  it('a recorded intent whose etcd is already starting is waited on, not sent again', async () => {
    rack = await makeRack(['controlplane'], { profile });
    await installed(rack, 'cp1');
    rack.store.setClusterState(BOOTSTRAP_NODE_KEY, 'cp1');
    rack.store.setClusterState(BOOTSTRAP_KEY, 'bootstrapping');
    // The earlier Bootstrap went through and etcd is coming up: Running, no member list answered yet.
    rack.fakes.get('cp1')!.opts.etcd.join('cp1');
    rack.fakes.get('cp1')!.faults.status.EtcdMemberList = { code: 14, details: 'etcdserver: no leader', times: 1 };
    const out = await stepper(rack, rack.store).step();
    expect(out).toMatchObject({ kind: 'waiting', reason: expect.stringContaining('etcd service Running but no member list yet') });
    expect(rack.totalBootstraps()).toBe(0);
    expect(await stepper(rack, rack.store).step()).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    expect(rack.totalBootstraps()).toBe(0);
  });

  it('never bootstraps the pinned node when another control plane already runs etcd (no split brain)', async () => {
    rack = await makeRack(['controlplane', 'controlplane'], { profile });
    await installed(rack, 'cp1', 'cp2');
    // Someone ran `talosctl bootstrap` on cp2; cp1 has not joined yet (its data dir is empty).
    rack.etcd.members.set('cp2', { id: '9', hostname: 'cp2' });
    const out = await stepper(rack, rack.store).step();
    expect(out).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    expect(rack.totalBootstraps()).toBe(0);
    expect(rack.etcd.splitBrains).toEqual([]);
    expect(rack.store.events().some((e) => e.kind === 'bootstrap' && e.message.startsWith('etcd already runs on cp2'))).toBe(true);
  });

  it('waits while another installed control plane cannot say whether it runs etcd', async () => {
    rack = await makeRack(['controlplane', 'controlplane'], { profile });
    await installed(rack, 'cp1', 'cp2');
    rack.fakes.get('cp2')!.faults.status.ServiceList = NOT_YET;
    const out = await stepper(rack, rack.store).step();
    expect(out).toMatchObject({ kind: 'waiting', reason: expect.stringContaining('cannot rule out etcd on another control plane: cp2') });
    expect(rack.totalBootstraps()).toBe(0);
    rack.fakes.get('cp2')!.faults.status = {};
    expect(await stepper(rack, rack.store).step()).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: true });
    expect(rack.totalBootstraps()).toBe(1);
    expect(rack.etcd.splitBrains).toEqual([]);
  });
});

describe('talosconfig', () => {
  it('reads the current context identity, and names what is missing', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const text = stringify({ context: 'admin@c', contexts: { 'admin@c': { endpoints: ['10.0.0.2'], ca: b64('CA'), crt: b64('CRT'), key: b64('KEY') } } });
    expect(parseTalosconfig(text)).toEqual({ ca: 'CA', crt: 'CRT', key: 'KEY' });
    expect(() => parseTalosconfig(stringify({ context: 'x', contexts: {} }))).toThrow(/no current context "x"/);
    expect(() => parseTalosconfig(stringify({ context: 'x', contexts: { x: { ca: b64('CA'), crt: b64('C') } } }))).toThrow(/has no key/);
  });
});
