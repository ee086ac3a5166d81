// The health step's reach: what one pass probes, how many at once, and whose
// health holds back whose readiness. The nodes are fake Talos nodes answering
// ServiceList as upstream's machined does (src/lab/fake-talos/machine-api.ts);
// the connections are counted on our side, where a probe opens and closes one.
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { TalosClient } from '../../src/talos/client.js';
import { ClusterHealth, type HealthOutcome } from '../../src/talos/health.js';
import { FAST, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const WORKERS = ['w1', 'w2', 'w3', 'w4', 'w5'];

/** A 1 + 5 rack brought to ready by the daemon's passes, then its workers set back to installed. */
async function rackOfInstalledWorkers(): Promise<Rack> {
  const r = await makeRack(['controlplane', 'worker', 'worker', 'worker', 'worker', 'worker']);
  pxeBooted(r, 'cp1', ...WORKERS);
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 60 && r.store.nodesInStates(['ready']).length < 6; i++) await orch.pass();
  } finally {
    await orch.close();
  }
  expect(r.store.nodesInStates(['ready']).map((n) => n.name)).toEqual(['cp1', ...WORKERS]);
  for (const w of WORKERS) r.store.setState(w, 'installed', 'test: back to installed');
  return r;
}

/** A health step with small limits whose connections are counted: `peak` is the most open at once. */
function countedHealth(r: Rack, probes: { workersPerPass: number; inFlight: number }) {
  const admin = { ca: r.pki.osCa.crt, crt: r.pki.admin.crt, key: r.pki.admin.key };
  const seen = { open: 0, peak: 0 };
  const health = new ClusterHealth({
    store: r.store, states: new StateMachine(r.store), dataDir: r.dir, probes,
    endpointOf: (n) => r.fakes.get(n.name)?.endpoint,
    connect: (ep) => {
      const client = TalosClient.configured(ep, admin, { policy: FAST });
      seen.peak = Math.max(seen.peak, ++seen.open);
      const close = client.close.bind(client);
      client.close = () => (seen.open--, close());
      return client;
    },
  });
  return { health, seen };
}

const serviceLists = (r: Rack) => Object.fromEntries([...r.fakes].map(([name, f]) => [name, f.calls.ServiceList ?? 0]));
const healthEvents = (r: Rack, node: string) => r.store.events({ node }).filter((e) => e.kind === 'health').map((e) => e.message);
const stateOf = (r: Rack, names: string[]) => names.map((n) => r.store.getNode(n)!.state);

describe('the health step', () => {
  it('probes the control planes every pass and installed workers in turn, never more at once than its limit, and never a ready worker again', async () => {
    rack = await rackOfInstalledWorkers();
    const { health, seen } = countedHealth(rack, { workersPerPass: 2, inFlight: 2 });
    const probedPerPass: string[][] = [];
    for (let pass = 0; pass < 3; pass++) {
      const readyBefore = new Set(rack.store.nodesInStates(['ready'], 'worker').map((n) => n.name));
      const before = serviceLists(rack);
      const out = await health.step();
      const after = serviceLists(rack);
      const probed = Object.keys(after).filter((n) => after[n]! > before[n]!);
      expect(out.kind).toBe('ready');
      expect(probed).toContain('cp1');
      expect(probed.filter((n) => readyBefore.has(n))).toEqual([]);
      probedPerPass.push(probed.filter((n) => n !== 'cp1'));
    }
    expect(probedPerPass.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(probedPerPass.flat().sort()).toEqual(WORKERS);
    expect(stateOf(rack, WORKERS)).toEqual(WORKERS.map(() => 'ready'));
    expect(seen.peak).toBe(2);
    expect(seen.open).toBe(0);

    // Everything is ready: a pass asks the control plane only.
    const before = serviceLists(rack);
    await health.step();
    const after = serviceLists(rack);
    expect(Object.keys(after).filter((n) => after[n]! > before[n]!)).toEqual(['cp1']);
  });

  it('a worker whose kubelet is down stays installed and is named; it holds back no other worker, and becomes ready once its kubelet is', async () => {
    rack = await rackOfInstalledWorkers();
    rack.fakes.get('w1')!.faults.unhealthy = ['kubelet'];
    const { health } = countedHealth(rack, { workersPerPass: 2, inFlight: 2 });
    const outcomes: HealthOutcome[] = [];
    for (let pass = 0; pass < 3; pass++) outcomes.push(await health.step());
    expect(stateOf(rack, WORKERS)).toEqual(['installed', 'ready', 'ready', 'ready', 'ready']);
    // The sick worker first in line is not probed every pass at the others' expense: the turn moves past it.
    expect(outcomes.map((o) => o.kind === 'ready' && o.unhealthy)).toEqual([['w1: kubelet not healthy'], [], ['w1: kubelet not healthy']]);
    expect(rack.store.getNode('w1')!.stateReason).toBe('test: back to installed');
    // Said on its page once, not once per pass that finds it so.
    expect(healthEvents(rack, 'w1')).toEqual(['not ready yet, the cluster is healthy: kubelet not healthy']);

    rack.fakes.get('w1')!.faults.unhealthy = [];
    expect(await health.step()).toMatchObject({ kind: 'ready', nodes: ['cp1', 'w1'], unhealthy: [] });
    expect(stateOf(rack, ['w1'])).toEqual(['ready']);
  });

  it('a worker whose Talos API stops answering is said so on its page once, and again when it answers but is unhealthy', async () => {
    rack = await rackOfInstalledWorkers();
    await rack.fakes.get('w1')!.stop();
    const { health } = countedHealth(rack, { workersPerPass: 5, inFlight: 4 });
    for (let pass = 0; pass < 2; pass++) await health.step();
    expect(healthEvents(rack, 'w1')).toEqual([expect.stringMatching(/^not ready yet, the cluster is healthy: its Talos API does not answer: /)]);
    expect(healthEvents(rack, 'w2')).toEqual([]);
    rack.fakes.get('w1')!.faults.unhealthy = ['kubelet'];
    await rack.fakes.get('w1')!.start();
    for (let pass = 0; pass < 2; pass++) await health.step();
    expect(healthEvents(rack, 'w1').slice(1)).toEqual(['not ready yet, the cluster is healthy: kubelet not healthy']);
    expect(stateOf(rack, ['w1'])).toEqual(['installed']);
  });

  it('a control plane whose kubelet is down holds back every installed node: the cluster is not healthy', async () => {
    rack = await rackOfInstalledWorkers();
    rack.fakes.get('cp1')!.faults.unhealthy = ['kubelet'];
    const { health } = countedHealth(rack, { workersPerPass: 5, inFlight: 4 });
    expect(await health.step()).toEqual({ kind: 'waiting', reason: 'cp1: kubelet not healthy' });
    expect(stateOf(rack, WORKERS)).toEqual(WORKERS.map(() => 'installed'));
  });
});
