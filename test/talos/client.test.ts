// Every RPC rackboot makes, against the fake node, in both TLS modes.
import { createHash, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { PinMismatchError } from '../../src/talos/errors.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { FakeEtcd, loadConfigSchema } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { PROFILES, type ProfileName } from '../../src/lab/fake-talos/profiles.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { freePort, waitFor } from './helpers.js';

const schema = loadConfigSchema();
const FAST = { timeoutMs: 2000, retries: 2, backoffMs: 20, maxBackoffMs: 100 };
const HOST = '127.0.0.1';
const U = grpc.status.UNIMPLEMENTED;
const P = grpc.status.PERMISSION_DENIED;

/**
 * What a client without a certificate meets in maintenance, written out per
 * version from upstream source (not read from the fake's table):
 * ≤ v1.12 internal/app/maintenance/server.go; v1.13.0 machined.go rules via
 * apid's read-only role mode.
 */
const MAINTENANCE: Record<ProfileName, { version: 'answers' | number; other: Record<string, 'answers' | number>; noReboot: number | string; auto: string }> = {
  'v1.11': { version: U, other: { Hostname: U, ServiceList: U, EtcdMemberList: U, Kubeconfig: U, Reboot: U, Reset: U, Bootstrap: U }, noReboot: U, auto: 'REBOOT' },
  'v1.12': { version: U, other: { Hostname: U, ServiceList: U, EtcdMemberList: U, Kubeconfig: U, Reboot: U, Reset: U, Bootstrap: U }, noReboot: U, auto: 'REBOOT' },
  'v1.13+': { version: 'answers', other: { Hostname: 'answers', ServiceList: 'answers', EtcdMemberList: U, Kubeconfig: P, Reboot: P, Reset: P, Bootstrap: P }, noReboot: 'NO_REBOOT', auto: 'NO_REBOOT' },
};

describe.each(PROFILES)('Talos %s', (profile) => {
  let pki: TestPki;
  let node: FakeTalosNode;
  const want = MAINTENANCE[profile];

  beforeAll(async () => {
    pki = await makeTestPki();
    node = new FakeTalosNode({
      host: HOST, port: await freePort(HOST), hostname: 'cp1', etcd: new FakeEtcd(), profile,
      maintenanceCert: await pki.selfSigned([HOST]), serverCert: await pki.serverCert([HOST]),
      validate: 'validate' in schema ? schema.validate : undefined, installDelayMs: 10,
    });
    await node.start();
  });
  afterAll(async () => node?.stop());

  describe('maintenance mode (TLS, server not verified)', () => {
    it('answers ApplyConfiguration and Disks (full /dev paths); Version as upstream of that version does', async () => {
      const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
      try {
        const disks = await c.disks();
        expect(disks.map((d) => d.device_name)).toEqual(['/dev/sda']);
        if (want.version === 'answers') expect((await c.version()).version.tag).toMatch(/^v1\.1[3-9]\./);
        else await expect(c.version()).rejects.toMatchObject({ code: want.version });
        await expect(c.applyConfiguration(Buffer.from('version: v1alpha1\nmachine: 7\n'), 'AUTO')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
        expect(node.applied).toHaveLength(0);
      } finally {
        c.close();
      }
    });

    it('every other RPC rackboot makes answers or is refused as upstream of that version', async () => {
      const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
      try {
        const calls: [string, () => Promise<unknown>][] = [
          ['Hostname', () => c.hostname()], ['ServiceList', () => c.serviceList()], ['EtcdMemberList', () => c.etcdMemberList()],
          ['Kubeconfig', () => c.kubeconfig()], ['Reboot', () => c.reboot()], ['Bootstrap', () => c.bootstrap()],
          ['Reset', () => c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: ['STATE'] })],
        ];
        for (const [name, call] of calls) {
          const expected = want.other[name]!;
          if (expected === 'answers') await expect(call(), name).resolves.toBeDefined();
          else await expect(call(), name).rejects.toMatchObject({ code: expected });
        }
        expect(node.resets).toHaveLength(0);
        expect(node.bootstrapCalls).toBe(1); // counted, refused before any effect
        expect(node.opts.etcd.exists).toBe(false);
      } finally {
        c.close();
      }
    });

    it('NO_REBOOT in maintenance: refused up to v1.12, applied without a reboot from v1.13 (dry run)', async () => {
      const c = await TalosClient.maintenance(node.endpoint, { policy: FAST });
      try {
        const config = minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt });
        if (typeof want.noReboot === 'number') {
          await expect(c.applyConfiguration(config, 'NO_REBOOT')).rejects.toMatchObject({ code: want.noReboot, details: expect.stringContaining("--mode='no-reboot' is not supported in maintenance mode") });
          await expect(c.applyConfiguration(config, 'STAGED')).rejects.toMatchObject({ code: want.noReboot });
        } else {
          // STAGED only persists: the node stays in maintenance.
          expect((await c.applyConfiguration(config, 'STAGED')).mode).toBe('STAGED');
          await new Promise((r) => setTimeout(r, 50));
          expect(node.mode).toBe('maintenance');
        }
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
        // ≤ v1.12 leaves the reply's mode unset, which reads as REBOOT (the zero value); v1.13 reports NO_REBOOT.
        expect(res.mode).toBe(want.auto);
        expect(node.applied.map((a) => a.mode).at(-1)).toBe('AUTO');
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
        expect((await c.version()).version.tag).toMatch(new RegExp(`^${profile.replace('+', '').replace('.', '\\.')}\\.`));
        expect(await c.hostname()).toBe('cp1');
        expect((await c.disks())[0]!.device_name).toBe('/dev/sda');
        // Before Bootstrap etcd does not run: the member list fails, never empty; the etcd service is Preparing.
        await expect(c.etcdMemberList({ queryLocal: true, retry: false })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
        await expect(c.etcdMemberList()).rejects.toMatchObject({ code: grpc.status.UNKNOWN });
        expect((await c.serviceList()).find((s) => s.id === 'etcd')).toMatchObject({ state: 'Preparing', health: { unknown: true } });
        await c.bootstrap();
        expect((await c.etcdMemberList()).map((m) => m.hostname)).toEqual(['cp1']);
        await expect(c.bootstrap()).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
        const services = await c.serviceList();
        expect(services.find((s) => s.id === 'kubelet')?.health?.healthy).toBe(true);
        expect(services.find((s) => s.id === 'etcd')).toMatchObject({ state: 'Running', health: { healthy: true } });
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
});
