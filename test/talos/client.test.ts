// Every RPC rackboot makes, against the fake node, in both TLS modes.
import { createHash, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { PinMismatchError, TalosCallError } from '../../src/talos/errors.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { FakeEtcd, loadConfigSchema } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { freePort, waitFor } from './helpers.js';

const schema = loadConfigSchema();
const FAST = { timeoutMs: 2000, retries: 2, backoffMs: 20, maxBackoffMs: 100 };

let pki: TestPki;
let node: FakeTalosNode;
const HOST = '127.0.0.1';

beforeAll(async () => {
  pki = await makeTestPki();
  node = new FakeTalosNode({
    host: HOST, port: await freePort(HOST), hostname: 'cp1', etcd: new FakeEtcd(),
    maintenanceCert: await pki.selfSigned([HOST]), serverCert: await pki.serverCert([HOST]),
    validate: 'validate' in schema ? schema.validate : undefined, installDelayMs: 10,
  });
  await node.start();
});
afterAll(async () => node?.stop());

describe('maintenance mode (TLS, server not verified)', () => {
  it('answers ApplyConfiguration and Disks; Version, Reset and Upgrade-era calls are Unimplemented', async () => {
    const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
    try {
      const disks = await c.disks();
      expect(disks.map((d) => d.device_name)).toEqual(['sda']);
      await expect(c.version()).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
      await expect(c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: ['STATE'] })).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
      await expect(c.bootstrap()).rejects.toBeInstanceOf(TalosCallError);
      await expect(c.applyConfiguration(Buffer.from('version: v1alpha1\nmachine: 7\n'), 'AUTO')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      await expect(c.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt }), 'NO_REBOOT')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect(node.applied).toHaveLength(0);
    } finally {
      c.close();
    }
  });

  it('every other RPC rackboot makes answers Unimplemented in maintenance mode, as upstream', async () => {
    const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
    try {
      const calls: [string, () => Promise<unknown>][] = [
        ['Hostname', () => c.hostname()], ['ServiceList', () => c.serviceList()], ['EtcdMemberList', () => c.etcdMemberList()],
        ['Kubeconfig', () => c.kubeconfig()], ['Reboot', () => c.reboot()],
      ];
      for (const [name, call] of calls) await expect(call(), name).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    } finally {
      c.close();
    }
  });

  it('refuses to talk to a server whose key does not match the pin, and talks when it does', async () => {
    const wrong = 'ab'.repeat(32);
    await expect(TalosClient.maintenance(node.endpoint, { pinSha256: wrong, policy: FAST })).rejects.toBeInstanceOf(PinMismatchError);
    const spki = new X509Certificate(node.opts.maintenanceCert.crt).publicKey.export({ type: 'spki', format: 'der' });
    const pin = createHash('sha256').update(spki).digest('base64');
    const c = await TalosClient.maintenance(node.endpoint, { pinSha256: pin, policy: FAST });
    try {
      expect((await c.disks()).length).toBe(1);
    } finally {
      c.close();
    }
  });

  it.skipIf('missing' in schema ? schema.missing : false)('a config the upstream schema rejects is refused (persist: true)', async () => {
    const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
    try {
      const bad = Buffer.from(minimalMachineConfig({ type: 'worker', osCaPem: pki.osCa.crt }).toString().replace('machine:\n', 'persist: true\nmachine:\n'));
      await expect(c.applyConfiguration(bad, 'AUTO')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    } finally {
      c.close();
    }
  });

  it('ApplyConfiguration with a valid config always sends its mode, then the node comes back configured', async () => {
    const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
    try {
      const res = await c.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt }), 'AUTO');
      expect(res.mode).toBe('REBOOT');
      expect(node.applied.map((a) => a.mode)).toEqual(['AUTO']);
    } finally {
      c.close();
    }
    await waitFor(() => node.mode === 'configured', 2000);
  });
});

describe('configured mode (mTLS, os:admin of the OS CA)', () => {
  const admin = () => TalosClient.configured(node.endpoint, { ca: pki.osCa.crt, crt: pki.admin.crt, key: pki.admin.key }, { policy: FAST });

  it('every RPC answers for the admin', async () => {
    const c = admin();
    try {
      expect((await c.version()).version.tag).toBe('v1.11.5');
      expect(await c.hostname()).toBe('cp1');
      expect((await c.disks())[0]!.device_name).toBe('sda');
      expect(await c.etcdMemberList()).toEqual([]);
      await c.bootstrap();
      expect((await c.etcdMemberList()).map((m) => m.hostname)).toEqual(['cp1']);
      await expect(c.bootstrap()).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
      const services = await c.serviceList();
      expect(services.find((s) => s.id === 'kubelet')?.health?.healthy).toBe(true);
      expect(services.map((s) => s.id)).toContain('etcd');
      expect((await c.kubeconfig()).toString()).toMatch(/^apiVersion: v1\nkind: Config\n/);
      expect((await c.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt }), 'NO_REBOOT')).warnings).toEqual([]);
      const rebootsBefore = node.calls.Reboot ?? 0;
      await c.reboot();
      expect(node.calls.Reboot).toBe(rebootsBefore + 1);
      await c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: ['STATE', 'EPHEMERAL'] });
      expect(node.resets[0]).toMatchObject({ graceful: true, reboot: true, mode: 'SYSTEM_DISK', system_partitions_to_wipe: [{ label: 'STATE', wipe: true }, { label: 'EPHEMERAL', wipe: true }] });
      expect(node.opts.etcd.members.size).toBe(0);
    } finally {
      c.close();
    }
    await waitFor(() => node.mode === 'maintenance', 2000);
  });
});
