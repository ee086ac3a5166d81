// An operator acts while a Talos call is in flight. Every Talos step sets
// node states through the lifecycle's state machine, from the state it read
// before the call, so the operator's later decision wins: the step's move is
// refused and recorded, the pass goes on, and nothing throws out of it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager as OperatorReimage } from '../../src/lifecycle/reimage.js';
import type { NodeState } from '../../src/lifecycle/states.js';
import { createLogger } from '../../src/log.js';
import type { OrchestratorDeps, PassReport } from '../../src/talos/orchestrator.js';
import type { FakeTalosNode } from '../fakes/talos-node.js';
import { REPO, runCli } from '../helpers/cli.js';
import { ALL_PROFILES, makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import type { ProfileName } from '../../src/lab/fake-talos/profiles.js';
import { waitFor } from './helpers.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

/** What `rackboot reimage` and the admin page do: the operator's side, through its own state machine. */
const operator = (r: Rack) => new OperatorReimage(new StateMachine(r.store));

/** True once the fake has received a `method` call after now (the fake counts a call before its delay). */
function callArrives(fake: FakeTalosNode, method: string): () => boolean {
  const before = fake.calls[method] ?? 0;
  return () => (fake.calls[method] ?? 0) > before;
}

/** One pass by a new orchestrator; once `inFlight` holds (a Talos call is under way), the operator acts. */
async function passWhile(r: Rack, inFlight: () => boolean, act: () => void, deps: Partial<OrchestratorDeps> = {}): Promise<PassReport> {
  const orch = r.orchestrator(deps);
  try {
    const pass = orch.pass();
    pass.catch(() => undefined); // awaited below; a waitFor timeout must not leave it unhandled
    await waitFor(inFlight, 10_000, 'the Talos call to be in flight');
    act();
    return await pass;
  } finally {
    await orch.close();
  }
}

/** Passes until `name` is in `state`. */
async function passUntil(r: Rack, name: string, state: NodeState): Promise<void> {
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 40 && r.store.getNode(name)!.state !== state; i++) await orch.pass();
  } finally {
    await orch.close();
  }
  expect(r.store.getNode(name)!.state).toBe(state);
}

/** A rack of one node that has just been handed the Talos kernel. */
async function booted(role: 'controlplane' | 'worker', profile: ProfileName): Promise<{ r: Rack; name: string; fake: FakeTalosNode }> {
  const r = await makeRack([role], { profile });
  const name = role === 'controlplane' ? 'cp1' : 'w1';
  pxeBooted(r, name);
  return { r, name, fake: r.fakes.get(name)! };
}

const statePath = (r: Rack, node: string) => r.store.events({ node }).filter((e) => e.kind === 'state').map((e) => (e.data as { to: string }).to);
const rejections = (r: Rack, node: string) => r.store.events({ node }).filter((e) => e.kind === 'rejected').map((e) => e.message);

describe.each(ALL_PROFILES)('Talos %s', (profile) => {
  describe('first contact', () => {
    it('a node marked for reimage while its config is on the way is never moved to installing', async () => {
      const { r, fake } = await booted('worker', profile);
      rack = r;
      fake.faults.delayMs.ApplyConfiguration = 300;
      const lines: string[] = [];
      const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) });
      const report = await passWhile(r, callArrives(fake, 'ApplyConfiguration'), () => operator(r).mark('w1', 'disk swapped', 'test'),
        { log, states: new StateMachine(r.store, log) });
      expect(report.pushed).toEqual([]);
      expect(statePath(rack, 'w1')).toEqual(expect.arrayContaining(['booting', 'maintenance', 'configuring', 'reimage-pending']));
      expect(statePath(rack, 'w1')).not.toContain('installing');
      expect(rejections(rack, 'w1')).toContain('stale transition configuring → installing refused: w1 is reimage-pending now: config accepted; Talos installs to disk and reboots');
      expect(rack.store.getNode('w1')!.markedForInstall).toBe(true);
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logged.filter((l) => l.msg.includes('stale transition configuring → installing')).map((l) => l.msg.split(':')[0])).toEqual([
        'stale transition configuring → installing refused', 'Talos step for w1 stops',
      ]);
    });

    it('a node marked for reimage while first contact polls it gets no config at all', async () => {
      const { r, fake } = await booted('worker', profile);
      rack = r;
      fake.faults.delayMs.Version = 300;
      const report = await passWhile(r, callArrives(fake, 'Version'), () => operator(r).mark('w1', 'wrong disk', 'test'));
      expect(report.pushed).toEqual([]);
      expect(fake.applied).toHaveLength(0);
      expect(statePath(rack, 'w1').slice(0, 2)).toEqual(['booting', 'reimage-pending']);
      expect(rejections(rack, 'w1')[0]).toMatch(/^stale transition booting → maintenance refused: w1 is reimage-pending now/);
    });
  });

  describe('from another process', () => {
    it('rackboot reimage, run as its own process while the config is on the way, wins', async () => {
      const { r, fake } = await booted('worker', profile);
      rack = r;
      fake.faults.delayMs.ApplyConfiguration = 300;
      const config = join(r.dir, 'rackboot.yaml');
      writeFileSync(config, `dataDir: ${r.dir}\ninventory: ${join(REPO, 'inventory/cluster.yaml')}\n`);
      let cli: ReturnType<typeof runCli> | undefined;
      // The CLI opens the same SQLite file; this process (the daemon's side)
      // waits on the fake meanwhile, and reads the mark only inside its own
      // write transaction when the Talos call returns.
      const report = await passWhile(r, callArrives(fake, 'ApplyConfiguration'), () => {
        cli = runCli(['reimage', 'w1', '--reason', 'disk swapped', '--config', config]);
      });
      expect(cli!.stderr).toBe('');
      expect(cli!.code).toBe(0);
      expect(report.pushed).toEqual([]);
      expect(statePath(rack, 'w1')).toEqual(expect.arrayContaining(['configuring', 'reimage-pending']));
      expect(statePath(rack, 'w1')).not.toContain('installing');
      expect(rejections(rack, 'w1')).toContain('stale transition configuring → installing refused: w1 is reimage-pending now: config accepted; Talos installs to disk and reboots');
      // The CLI's mark moved the node out of configuring…
      const moves = rack.store.events({ node: 'w1' }).filter((e) => e.kind === 'state').map((e) => e.data as { from: string; to: string; reason: string });
      // The CLI names its unix user as the actor (cli:<user>).
      const byCli = expect.stringMatching(/^reimage requested by cli:[^:]+: disk swapped$/);
      expect(moves).toContainEqual({ from: 'configuring', to: 'reimage-pending', reason: byCli });
      // …and the same pass's reset step (it runs after first contact) acted on that mark. Whether it finds the
      // node still in maintenance (already wiped), switching (waits) or installed (Reset) depends on how far
      // the fake's install got by then; the node stays marked for install in every case.
      expect(report.resets.map((o) => o.node)).toEqual(['w1']);
      const node = rack.store.getNode('w1')!;
      expect(node.markedForInstall).toBe(true);
      if (node.state === 'wiping') expect(['already-wiped', 'reset']).toContain(report.resets[0]!.result);
      else expect(node).toMatchObject({ state: 'reimage-pending', stateReason: byCli });
    });
  });

  describe('noticing the install', () => {
    it('a node marked for reimage while its mTLS answer is awaited is not recorded installed, and keeps its mark', async () => {
      const { r, fake } = await booted('worker', profile);
      rack = r;
      await passUntil(r, 'w1', 'installing');
      await waitFor(() => fake.mode === 'configured', 2000, 'the fake to install');
      fake.faults.delayMs.Version = 300;
      const report = await passWhile(r, callArrives(fake, 'Version'), () => operator(r).mark('w1', 'wrong image', 'test'));
      expect(report.installed).toEqual([]);
      expect(statePath(rack, 'w1')).not.toContain('installed');
      expect(rejections(rack, 'w1')).toContain(`stale transition installing → installed refused: w1 is reimage-pending now: Talos ${fake.profile.versionTag} answers over mTLS at ${fake.endpoint}`);
      expect(rack.store.getNode('w1')!.markedForInstall).toBe(true);
    });
  });

  describe('health', () => {
    it('a node marked for reimage while it is probed is not made ready', async () => {
      const { r, fake } = await booted('controlplane', profile);
      rack = r;
      await passUntil(r, 'cp1', 'ready');
      // Back to installed (its kubelet restarted, say); the next health step would make it ready again.
      r.store.setState('cp1', 'installed', 'test: kubelet restarted');
      fake.faults.delayMs.ServiceList = 300;
      const report = await passWhile(r, callArrives(fake, 'ServiceList'), () => operator(r).mark('cp1', 'new disk', 'test', { destroyEtcd: true }));
      expect(report.health).toMatchObject({ kind: 'ready', nodes: [] });
      const path = statePath(rack, 'cp1');
      expect(path.slice(path.lastIndexOf('installed'))).not.toContain('ready');
      expect(rejections(rack, 'cp1')).toContain('stale transition installed → ready refused: cp1 is reimage-pending now: healthy: apid, kubelet up; etcd has 1 member(s)');
    });
  });

  describe('reset', () => {
    it('a reimage cancelled while Reset is on its way keeps the cancelled state, and the operator is told the node wipes anyway', async () => {
      const { r, fake: cp1 } = await booted('controlplane', profile);
      rack = r;
      await passUntil(r, 'cp1', 'ready');
      cp1.faults.delayMs.Reset = 300;
      operator(r).mark('cp1', 'new disk', 'test', { destroyEtcd: true });
      const report = await passWhile(r, callArrives(cp1, 'Reset'), () => operator(r).cancel('cp1', 'test'));
      expect(report.resets).toEqual([{
        node: 'cp1', result: 'refused', graceful: false,
        reason: 'stale transition reimage-pending → wiping refused: cp1 is ready now: Reset sent (graceful false); next PXE boot installs again',
      }]);
      expect(cp1.resets).toHaveLength(1);
      expect(rack.store.getNode('cp1')).toMatchObject({ state: 'ready', markedForInstall: false });
      expect(statePath(rack, 'cp1')).not.toContain('wiping');
      const told = rack.store.events({ node: 'cp1' }).filter((e) => e.kind === 'reset').map((e) => e.message);
      expect(told.at(-1)).toBe('Reset of cp1 was accepted, but meanwhile it became ready: Talos wipes it anyway; if its reimage was cancelled, mark it again');
    });
  });
});
