// Config changes against fake Talos nodes of each version profile: the mode
// Talos picks, one reboot at a time behind the gate, rejections recorded and
// not retried, and the plan's redacted dry-run diff.
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { appliedConfigFor, recordTalosVersion } from '../../src/day2/applied.js';
import { simpleHealthGate } from '../../src/day2/gate.js';
import { formatPlan, planNodes } from '../../src/day2/plan.js';
import type { DesiredState, GateResult, NodeHealthGate } from '../../src/day2/ports.js';
import { REDACTED } from '../../src/day2/redact.js';
import { ConfigRollout } from '../../src/day2/config-rollout.js';
import { talosConfigPort } from '../../src/day2/talos-port.js';
import type { NodeRecord } from '../../src/store/store.js';
import { TalosClient } from '../../src/talos/client.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { ALL_PROFILES, FAST, makeRack, pxeBooted, type Rack } from '../talos/cluster-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

/** A rack whose nodes all went through first contact and answer over mTLS (state installed). */
async function installedRack(roles: ('controlplane' | 'worker')[], profile: (typeof ALL_PROFILES)[number]): Promise<Rack> {
  const r = await makeRack(roles, { profile });
  const names = r.store.listNodes().map((n) => n.name);
  pxeBooted(r, ...names);
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 40 && !r.store.listNodes().every((n) => ['installed', 'ready'].includes(n.state)); i++) {
      await orch.pass();
      await new Promise((res) => setTimeout(res, 30));
    }
  } finally {
    await orch.close();
  }
  expect(r.store.listNodes().map((n) => n.state).every((s) => ['installed', 'ready'].includes(s))).toBe(true);
  return r;
}

type Edit = (doc: any, node: NodeRecord) => void;

/** The desired state: the config first contact sent, with `edit` applied, as an inventory edit would. */
function desiredWith(r: Rack, edit: () => Edit | undefined): DesiredState {
  return async (node) => {
    const base = minimalMachineConfig({ type: node.role, osCaPem: r.pki.osCa.crt, installDisk: typeof node.spec.installDisk === "string" ? node.spec.installDisk : undefined, hostname: node.name });
    const e = edit();
    let config = base;
    if (e) {
      const doc = parse(base.toString());
      e(doc, node);
      config = Buffer.from(stringify(doc));
    }
    return { config, talosVersion: r.fakes.get(node.name)!.profile.versionTag, schematic: 's', kubernetesVersion: '1.35.0' };
  };
}

function port(r: Rack) {
  const admin = { ca: r.pki.osCa.crt, crt: r.pki.admin.crt, key: r.pki.admin.key };
  const connect = (ep: string) => TalosClient.configured(ep, admin, { policy: FAST });
  const endpointOf = (n: NodeRecord) => r.fakes.get(n.name)?.endpoint;
  return { port: talosConfigPort(connect, endpointOf), connect, endpointOf };
}

const applies = (r: Rack, name: string) => r.fakes.get(name)!.applied.length;

describe.each(ALL_PROFILES)('config changes on Talos %s nodes', (profile) => {
  it('records the pushed config and the running version; plan shows the redacted dry-run diff and the mode', async () => {
    rack = await installedRack(['controlplane', 'worker'], profile);
    const r = rack;
    const w1 = appliedConfigFor(r.store, 'w1')!;
    expect(w1).toMatchObject({ via: 'push', talosVersion: r.fakes.get('w1')!.profile.versionTag });
    expect(w1.redacted).toContain(`token: ${REDACTED}`);
    let edit: Edit | undefined;
    const deps = { store: r.store, desired: desiredWith(r, () => edit), port: port(r).port };
    expect((await planNodes(deps)).map((p) => p.config.desiredSha256 === p.config.appliedSha256)).toEqual([true, true]);
    // The running version is asked afresh: a stale record is corrected from Version over mTLS.
    recordTalosVersion(r.store, 'w1', 'v1.0.0');
    expect((await planNodes(deps, ['w1']))[0]!.talosVersion).toEqual({ desired: w1.talosVersion, running: w1.talosVersion, differs: false });
    expect(appliedConfigFor(r.store, 'w1')!.talosVersion).toBe(w1.talosVersion);

    edit = (d, n) => { if (n.name === 'w1') { d.machine.nodeLabels = { rack: 'r7' }; d.machine.token = 'zzzzzz.secretsecretsecre'; } };
    const [cp1, w] = await planNodes(deps);
    // cp1's config did not move: Talos is not asked, there is no diff.
    expect(cp1!.config.desiredSha256).toBe(cp1!.config.appliedSha256);
    expect(cp1!.config.diff).toBeUndefined();
    expect(cp1!.pending).toBe(true); // its schematic 's' is not what it runs
    expect(cp1!.talosVersion.differs).toBe(false);
    expect(w!.config).toMatchObject({ mode: 'REBOOT', unchanged: false });
    expect(w!.config.diff).toMatch(/^\+\s+nodeLabels:$/m);
    expect(w!.config.diff).toMatch(new RegExp(`^\\+\\s+token: ${REDACTED.replace(/[()]/g, "\\$&")}$`, 'm'));
    const text = formatPlan([cp1!, w!]);
    expect(text).not.toContain('secretsecretsecre');
    expect(text).toContain('Talos would apply it with a reboot');
    expect(applies(r, 'w1')).toBe(1); // the dry run applied nothing
  });

  it('applies a no-reboot change with AUTO at once and records the mode Talos chose; the gate is not asked', async () => {
    rack = await installedRack(['controlplane', 'worker', 'worker'], profile);
    const r = rack;
    const gated: string[] = [];
    const rollout = new ConfigRollout({
      store: r.store, port: port(r).port, actor: 'test-operator',
      desired: desiredWith(r, () => (d) => { d.machine.nodeLabels = { zone: 'a' }; }),
      gate: async (n) => (gated.push(n.name), { ok: true, detail: 'ok' }),
    });
    const out = await rollout.run('all');
    expect(out.map((o) => [o.node, o.kind, 'mode' in o ? o.mode : ''])).toEqual([['cp1', 'applied', 'NO_REBOOT'], ['w1', 'applied', 'NO_REBOOT'], ['w2', 'applied', 'NO_REBOOT']]);
    expect(gated).toEqual([]);
    for (const f of r.fakes.values()) expect(f.applied.map((a) => a.mode)).toEqual(['AUTO', 'AUTO']);
    expect(appliedConfigFor(r.store, 'w1')).toMatchObject({ via: 'apply', mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' });
    const ev = r.store.events({ node: 'w1' }).filter((e) => e.kind === 'day2').at(-1)!;
    expect(ev.data).toMatchObject({ actor: 'test-operator', requested: 'AUTO', mode: 'NO_REBOOT' });
    // Applied: the next run finds nothing to do and sends nothing.
    expect((await rollout.run('all')).map((o) => o.kind)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(applies(r, 'w1')).toBe(2);
  });

  it('rolls reboot changes one node at a time, control planes first, each behind the gate; a failing gate holds the rest', async () => {
    rack = await installedRack(['worker', 'controlplane', 'worker'], profile);
    const r = rack;
    const { port: p, connect, endpointOf } = port(r);
    const real = simpleHealthGate({ connect, endpointOf, timeoutMs: 5000, intervalMs: 50 });
    const log: string[] = [];
    let failOn = '';
    const gate: NodeHealthGate = async (n, config) => {
      // While a node is gated, no other node has received its new config.
      log.push(`gate ${n.name}: others applied ${[...r.fakes.entries()].filter(([k, f]) => k !== n.name && f.applied.length > 1).map(([k]) => k).sort().join(',')}`);
      if (n.name === failOn) return { ok: false, reason: 'kubelet down' } as GateResult;
      const res = await real(n, config);
      log.push(`gate ${n.name}: ${res.ok}`);
      return res;
    };
    const env: Edit = (d) => { d.machine.env = { HTTP_PROXY: 'http://proxy:3128' }; };
    const rollout = new ConfigRollout({ store: r.store, port: p, actor: 'test', desired: desiredWith(r, () => env), gate });
    const order: string[] = [];
    for (const [name, f] of r.fakes) {
      const orig = f.accept.bind(f);
      f.accept = (...a) => (order.push(name), orig(...a));
    }
    const out = await rollout.run('all');
    expect(order).toEqual(['cp1', 'w1', 'w2']);
    expect(log).toEqual(['gate cp1: others applied ', 'gate cp1: true', 'gate w1: others applied cp1', 'gate w1: true', 'gate w2: others applied cp1,w1', 'gate w2: true']);
    expect(out.map((o) => [o.node, o.kind, 'mode' in o ? o.mode : ''])).toEqual([['cp1', 'applied', 'REBOOT'], ['w1', 'applied', 'REBOOT'], ['w2', 'applied', 'REBOOT']]);

    // A second change whose gate fails on the first node: the others are held, not applied.
    const before = ['w1', 'w2'].map((n) => applies(r, n));
    failOn = 'cp1';
    const env2: Edit = (d) => { d.machine.env = { HTTP_PROXY: 'http://proxy2:3128' }; };
    const rollout2 = new ConfigRollout({ store: r.store, port: p, actor: 'test', desired: desiredWith(r, () => env2), gate });
    const out2 = await rollout2.run('all');
    expect(out2.map((o) => [o.node, o.kind])).toEqual([['cp1', 'held'], ['w1', 'held'], ['w2', 'held']]);
    expect(['w1', 'w2'].map((n) => applies(r, n))).toEqual(before);
    expect(r.store.events({ node: 'cp1' }).some((e) => e.kind === 'day2' && e.message.includes('rollout held: cp1 not healthy after its config apply: kubelet down'))).toBe(true);
  });

  it('keeps no secret of a rebooting apply: the diff in the mode_details Talos sends is redacted in the store, events and outcome', async () => {
    rack = await installedRack(['worker'], profile);
    const r = rack;
    const token = 'qqqqqq.rotatedtokensecret';
    const rollout = new ConfigRollout({
      store: r.store, port: port(r).port, actor: 'test', gate: async () => ({ ok: true, detail: 'ok' }),
      desired: desiredWith(r, () => (d) => { d.machine.token = token; }),
    });
    const [out] = await rollout.run('all');
    expect(out).toMatchObject({ kind: 'applied', mode: 'REBOOT', modeDetails: expect.stringContaining(`token: ${REDACTED}`) });
    expect(JSON.stringify(out)).not.toContain('rotatedtokensecret');
    expect(r.fakes.get('w1')!.applied.at(-1)!.data.toString()).toContain(token); // the node did get it
    const dump = JSON.stringify([r.store.db.prepare('SELECT * FROM node_config').all(), r.store.events({ node: 'w1' })]);
    expect(dump).toContain('immediate mode');
    expect(dump).not.toContain('rotatedtokensecret');
  });

  it('records a config Talos rejects on the node and does not send it again until the inventory changes', async () => {
    rack = await installedRack(['worker'], profile);
    const r = rack;
    let edit: Edit = (d) => { d.persist = 'not a boolean'; };
    const deps = { store: r.store, port: port(r).port, actor: 'test', desired: desiredWith(r, () => edit), gate: async () => ({ ok: true as const, detail: '' }) };
    const first = await new ConfigRollout(deps).run(['w1']);
    expect(first).toEqual([{ node: 'w1', kind: 'rejected', reason: expect.stringMatching(/schema|persist/) }]);
    expect(appliedConfigFor(r.store, 'w1')!.rejected?.reason).toMatch(/schema|persist/);
    const calls = r.fakes.get('w1')!.calls.ApplyConfiguration;
    const second = await new ConfigRollout(deps).run(['w1']);
    expect(second).toMatchObject([{ node: 'w1', kind: 'rejected', before: true }]);
    expect(r.fakes.get('w1')!.calls.ApplyConfiguration).toBe(calls);
    const plan = await planNodes(deps, ['w1']);
    expect(plan[0]!.config.rejected).toMatch(/schema|persist/);
    expect(formatPlan(plan)).toContain('rejected by Talos, not retried until the inventory changes');
    // An inventory edit makes a new config: it is tried, and the rejection is gone once it applies.
    edit = (d) => { d.machine.nodeLabels = { fixed: 'yes' }; };
    expect((await new ConfigRollout(deps).run(['w1'])).map((o) => o.kind)).toEqual(['applied']);
    expect(appliedConfigFor(r.store, 'w1')!.rejected).toBeNull();
  });
});
