// The bootstrap guard on its own: an existing etcd is never bootstrapped
// again, and two processes stepping at once send one Bootstrap between them.
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrapState, ClusterBootstrap } from '../../src/talos/bootstrap.js';
import { TalosClient } from '../../src/talos/client.js';
import { parseTalosconfig } from '../../src/talos/talosconfig.js';
import { Store } from '../../src/store/store.js';
import { FAST, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

async function installed(r: Rack, ...names: string[]): Promise<void> {
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
}

function stepper(r: Rack, store: Store): ClusterBootstrap {
  const admin = { ca: r.pki.osCa.crt, crt: r.pki.admin.crt, key: r.pki.admin.key };
  return new ClusterBootstrap({ store, connect: (ep) => TalosClient.configured(ep, admin, { policy: FAST }), endpointOf: (n) => r.fakes.get(n.name)?.endpoint });
}

describe('bootstrap guard', () => {
  it('an etcd bootstrapped by hand is recorded, not bootstrapped again', async () => {
    rack = await makeRack(['controlplane']);
    // Hold the orchestrator's own bootstrap back until cp1 is installed.
    rack.fakes.get('cp1')!.faults.status.EtcdMemberList = { code: 14, details: 'not yet', times: 1e6 };
    await installed(rack, 'cp1');
    rack.fakes.get('cp1')!.faults.status = {};
    rack.etcd.join('cp1');
    const out = await stepper(rack, rack.store).step();
    expect(out).toEqual({ kind: 'bootstrapped', node: 'cp1', sent: false });
    expect(rack.totalBootstraps()).toBe(0);
  });

  it('two processes stepping at once send one Bootstrap between them', async () => {
    rack = await makeRack(['controlplane']);
    rack.fakes.get('cp1')!.faults.status.EtcdMemberList = { code: 14, details: 'not yet', times: 1e6 };
    await installed(rack, 'cp1');
    rack.fakes.get('cp1')!.faults.status = {};
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
