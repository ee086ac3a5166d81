// ApplyConfiguration on a configured fake node, per version profile: the
// mode machined picks, dry-run diffs, and refusals, as
// v1alpha1_server.go / v1alpha1_runtime.go CanApplyImmediate have them
// (v1.11.5, v1.12.11, v1.13.0; see src/lab/fake-talos/apply-config.ts).
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TalosClient } from '../../src/talos/client.js';
import { PROFILES } from '../../src/lab/fake-talos/profiles.js';
import { REBOOT_DOWN_MS, cannotApplyImmediately } from '../../src/lab/fake-talos/apply-config.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { FakeEtcd, loadConfigSchema } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { freePort, waitFor } from '../talos/helpers.js';

const schema = loadConfigSchema();
const FAST = { timeoutMs: 2000, retries: 0, backoffMs: 20, maxBackoffMs: 100 };
const HOST = '127.0.0.1';

function edit(config: Buffer, change: (doc: any) => void): Buffer {
  const doc = parse(config.toString());
  change(doc);
  return Buffer.from(stringify(doc));
}

let node: FakeTalosNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

async function configured(profile: (typeof PROFILES)[number]): Promise<{ pki: TestPki; node: FakeTalosNode; base: Buffer; client: () => TalosClient }> {
  const pki = await makeTestPki();
  node = new FakeTalosNode({
    host: HOST, port: await freePort(HOST), hostname: 'w1', etcd: new FakeEtcd(), profile,
    maintenanceCert: await pki.selfSigned([HOST]), serverCert: await pki.serverCert([HOST]),
    validate: 'validate' in schema ? schema.validate : undefined, installDelayMs: 5,
  });
  await node.start();
  const base = minimalMachineConfig({ type: 'worker', osCaPem: pki.osCa.crt });
  const m = await TalosClient.maintenance(node.endpoint, { policy: FAST });
  await m.applyConfiguration(base, 'AUTO');
  m.close();
  const n = node;
  await waitFor(() => n.mode === 'configured', 2000);
  return { pki, node: n, base, client: () => TalosClient.configured(n.endpoint, { ca: pki.osCa.crt, crt: pki.admin.crt, key: pki.admin.key }, { policy: FAST }) };
}

describe('CanApplyImmediate (pure)', () => {
  const base = minimalMachineConfig({ type: 'worker', osCaPem: 'x' });
  it('lets the listed machine fields, cluster and debug change in place, nothing else', () => {
    expect(cannotApplyImmediately(base, edit(base, (d) => { d.machine.nodeLabels = { rack: 'a' }; d.cluster.clusterName = 'x'; d.debug = true; }))).toBeUndefined();
    expect(cannotApplyImmediately(base, edit(base, (d) => { d.machine.features = { kubePrism: { enabled: true } }; }))).toMatch(/can't be applied in immediate mode/);
    expect(cannotApplyImmediately(edit(base, (d) => { d.machine.features = { rbac: true }; }), edit(base, (d) => { d.machine.features = { rbac: true, hostDNS: { enabled: true } }; }))).toBeUndefined();
    expect(cannotApplyImmediately(base, edit(base, (d) => { d.machine.env = { A: 'b' }; }))).toMatch(/\+\s+env:/);
    expect(cannotApplyImmediately(base, edit(base, (d) => { d.machine.token = 'zzzzzz.zzzzzzzzzzzzzzzz'; }))).toMatch(/immediate mode/);
    // Only the v1alpha1 document is compared: a change to another document applies in place.
    expect(cannotApplyImmediately(base, Buffer.concat([base, Buffer.from('---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: w1\n')]))).toBeUndefined();
  });
});

describe.each(PROFILES)('a configured Talos %s node', (profile) => {
  it('dry-run AUTO names the mode it would pick and the diff, and applies nothing', async () => {
    const { node: n, base, client } = await configured(profile);
    const c = client();
    try {
      const labelled = edit(base, (d) => { d.machine.nodeLabels = { rack: 'r7' }; });
      const dry = await c.applyConfiguration(labelled, 'AUTO', { dryRun: true });
      expect(dry.mode).toBe('NO_REBOOT');
      expect(dry.modeDetails).toMatch(/^Dry run summary:\nApplied configuration without a reboot \(skipped in dry-run\)\.\nConfig diff:\n\n--- a\n\+\+\+ b\n@@ /);
      expect(dry.modeDetails).toMatch(/^\+\s+nodeLabels:\n\+\s+rack: r7$/m);
      const same = await c.applyConfiguration(base, 'AUTO', { dryRun: true });
      expect(same.modeDetails).toMatch(/Config diff:\n\nNo changes\.$/);
      const reboot = await c.applyConfiguration(edit(base, (d) => { d.machine.env = { A: 'b' }; }), 'AUTO', { dryRun: true });
      expect(reboot.mode).toBe('REBOOT');
      expect(reboot.modeDetails).toMatch(/^Dry run summary:\nApplied configuration with a reboot \(skipped in dry-run\)/);
      expect(n.applied).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('AUTO applies a no-reboot change in place, and reboots for one that needs it', async () => {
    const { node: n, base, client } = await configured(profile);
    let c = client();
    const labelled = edit(base, (d) => { d.machine.nodeLabels = { rack: 'r7' }; });
    const withEnv = edit(labelled, (d) => { d.machine.env = { A: 'b' }; });
    try {
      const r = await c.applyConfiguration(labelled, 'AUTO');
      expect(r).toMatchObject({ mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' });
      expect(n.mode).toBe('configured');
      expect((await c.applyConfiguration(labelled, 'AUTO', { dryRun: true })).modeDetails).toMatch(/No changes\.$/);
      await expect(c.applyConfiguration(withEnv, 'NO_REBOOT')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/immediate mode/) });
      const rb = await c.applyConfiguration(withEnv, 'AUTO');
      expect(rb.mode).toBe('REBOOT');
      expect(rb.modeDetails).toMatch(/^Applied configuration with a reboot: this config change can't be applied in immediate mode/);
      // Before it goes down: v1.12+ refuse any apply (applyConfigRebooted); v1.11.5 still diffs against the running config.
      const again = c.applyConfiguration(withEnv, 'AUTO', { dryRun: true });
      if (profile === 'v1.11') expect((await again).modeDetails).toMatch(/^\+\s+env:/m);
      else await expect(again).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringMatching(/node is rebooting/) });
    } finally {
      c.close();
    }
    await waitFor(() => n.mode === 'down', 1000, 'the node to go down for its reboot');
    await new Promise((r) => setTimeout(r, REBOOT_DOWN_MS / 2));
    expect(n.mode).toBe('down');
    await waitFor(() => n.mode === 'configured', 2000, 'the node to come back');
    c = client();
    try {
      expect((await c.applyConfiguration(withEnv, 'AUTO', { dryRun: true })).modeDetails).toMatch(/No changes\.$/);
    } finally {
      c.close();
    }
    expect(n.applied.map((a) => a.mode)).toEqual(['AUTO', 'AUTO', 'AUTO']);
  });

  it('refuses a config that does not validate, and keeps the one it runs', async () => {
    const { node: n, base, client } = await configured(profile);
    const c = client();
    try {
      const bad = Buffer.from(base.toString().replace('machine:\n', 'persist: true\nmachine:\n'));
      await expect(c.applyConfiguration(bad, 'AUTO')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      await expect(c.applyConfiguration(Buffer.from('kind: HostnameConfig\n'), 'AUTO', { dryRun: true })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect(n.applied).toHaveLength(1);
      expect((await c.applyConfiguration(base, 'AUTO', { dryRun: true })).modeDetails).toMatch(/No changes\.$/);
    } finally {
      c.close();
    }
  });
});
