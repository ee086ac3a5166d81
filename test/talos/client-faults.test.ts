// Refused identities, metadata.error, slow answers, retries, dropped streams
// and shutdown, against one configured fake node.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { ArchiveError, ClientClosedError, TalosCallError, TalosNodeError } from '../../src/talos/errors.js';
import type { TestPki } from '../fakes/pki.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { clearFaults, configuredFakeNode } from './helpers.js';

const FAST = { timeoutMs: 1000, retries: 2, backoffMs: 20, maxBackoffMs: 50 };
let pki: TestPki;
let node: FakeTalosNode;

beforeAll(async () => {
  ({ pki, node } = await configuredFakeNode(FAST));
});
afterAll(async () => node?.stop());
afterEach(() => clearFaults(node));

const as = (id: { crt: string; key: string }, ca = pki.osCa.crt, policy = FAST) =>
  TalosClient.configured(node.endpoint, { ca, crt: id.crt, key: id.key }, { policy });

describe('who is refused', () => {
  it('a client cert from another CA cannot even connect', async () => {
    const c = as(pki.wrongCaAdmin, pki.osCa.crt, { ...FAST, retries: 0 });
    try {
      const before = node.calls.Version ?? 0;
      await expect(c.version()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(node.calls.Version ?? 0).toBe(before);
    } finally {
      c.close();
    }
  });

  it('a cert of the right CA without the clientAuth usage is refused at the handshake', async () => {
    const serverOnly = await pki.serverCert(['127.0.0.1']);
    const c = as(serverOnly, pki.osCa.crt, { ...FAST, retries: 0 });
    try {
      const before = node.calls.Version ?? 0;
      await expect(c.version()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(node.calls.Version ?? 0).toBe(before);
    } finally {
      c.close();
    }
  });

  it('an os:reader cert of the right CA is denied every call that changes or reveals secrets, and nothing happens', async () => {
    const c = as(pki.reader);
    try {
      // Read-only calls are open to os:reader upstream, and so here.
      expect(await c.hostname()).toBe('cp1');
      await expect(c.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt }), 'NO_REBOOT')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(c.reboot()).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(c.bootstrap()).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(c.reset({ graceful: true, reboot: true, systemPartitionsToWipe: [] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      await expect(c.kubeconfig()).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect(node.resets).toHaveLength(0);
      expect(node.opts.etcd.exists).toBe(false);
      expect(node.refused).toEqual(expect.arrayContaining(['ApplyConfiguration', 'Reboot', 'Bootstrap', 'Reset', 'Kubeconfig']));
    } finally {
      c.close();
    }
  });

  it('a server not signed by the OS CA is refused by the client', async () => {
    const c = as(pki.admin, pki.wrongCa.crt, { ...FAST, retries: 0 });
    try {
      await expect(c.version()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      c.close();
    }
  });

  it('a maintenance-mode (no client cert) client is refused by a configured node', async () => {
    const c = await TalosClient.maintenance(node.endpoint, { policy: { ...FAST, retries: 0 } });
    try {
      await expect(c.disks()).rejects.toBeInstanceOf(TalosCallError);
    } finally {
      c.close();
    }
  });
});

describe('faults', () => {
  it('metadata.error in a reply becomes a TalosNodeError, for unary and streaming calls', async () => {
    node.faults.metadataError.ServiceList = 'rpc error: code = Unavailable desc = connection refused';
    node.faults.metadataError.Kubeconfig = 'kubeconfig not ready';
    const c = as(pki.admin);
    try {
      const err = await c.serviceList().catch((e) => e);
      expect(err).toBeInstanceOf(TalosNodeError);
      expect(err).toMatchObject({ method: 'ServiceList', hostname: 'cp1', nodeMessage: expect.stringContaining('connection refused') });
      await expect(c.kubeconfig()).rejects.toBeInstanceOf(TalosNodeError);
    } finally {
      c.close();
    }
  });

  it('transient statuses are retried with backoff; a permanent one is not', async () => {
    const c = as(pki.admin);
    try {
      node.faults.status.Hostname = { code: grpc.status.UNAVAILABLE, details: 'busy', times: 2 };
      const before = node.calls.Hostname ?? 0;
      expect(await c.hostname()).toBe('cp1');
      expect((node.calls.Hostname ?? 0) - before).toBe(3);
      node.faults.status.Hostname = { code: grpc.status.UNAVAILABLE, details: 'busy', times: 5 };
      await expect(c.hostname()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      node.faults.status.Hostname = { code: grpc.status.INVALID_ARGUMENT, details: 'no', times: 1 };
      const n = node.calls.Hostname ?? 0;
      await expect(c.hostname()).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      expect(node.calls.Hostname! - n).toBe(1);
    } finally {
      c.close();
    }
  });

  it('Bootstrap is never retried by the client, even on a transient status', async () => {
    const c = as(pki.admin);
    try {
      node.faults.status.Bootstrap = { code: grpc.status.UNAVAILABLE, details: 'lost', times: 1 };
      const before = node.bootstrapCalls;
      await expect(c.bootstrap()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(node.bootstrapCalls - before).toBe(1);
    } finally {
      c.close();
    }
  });

  it('a slow answer hits the per-attempt deadline', async () => {
    node.faults.delayMs.Version = 400;
    const c = as(pki.admin, pki.osCa.crt, { timeoutMs: 100, retries: 1, backoffMs: 10, maxBackoffMs: 10 });
    try {
      const t0 = Date.now();
      await expect(c.version()).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
      expect(Date.now() - t0).toBeLessThan(390);
      expect(node.calls.Version).toBeGreaterThanOrEqual(2);
    } finally {
      c.close();
    }
  });

  it('close() cancels calls in flight and pending retries', async () => {
    node.faults.delayMs.Version = 1000;
    const c = as(pki.admin, pki.osCa.crt, { timeoutMs: 5000, retries: 3, backoffMs: 10, maxBackoffMs: 10 });
    const p = c.version();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    c.close();
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('kubeconfig stream', () => {
  it.each([1, 7, 511, 512, 513, 4096])('reassembles chunks of %i bytes (no end-of-archive marker)', async (size) => {
    node.faults.kubeconfigChunkSize = size;
    const c = as(pki.admin);
    try {
      const text = (await c.kubeconfig()).toString();
      expect(text).toContain('current-context: admin@rackboot');
    } finally {
      c.close();
    }
  });

  it('a stream dropped mid-way is fetched again from the start', async () => {
    node.faults.kubeconfigDrop = { afterChunks: 3, times: 1 };
    const c = as(pki.admin);
    try {
      const before = node.calls.Kubeconfig ?? 0;
      expect((await c.kubeconfig()).toString()).toContain('kind: Config');
      expect(node.calls.Kubeconfig! - before).toBe(2);
    } finally {
      c.close();
    }
  });

  it('a connection torn down mid-stream (server gone, back shortly) is fetched again', async () => {
    node.faults.kubeconfigDrop = { afterChunks: 2, times: 1, hard: true };
    // grpc-js waits about a second before reconnecting to a server that went away.
    const c = as(pki.admin, pki.osCa.crt, { timeoutMs: 2000, retries: 5, backoffMs: 200, maxBackoffMs: 1000 });
    try {
      const before = node.calls.Kubeconfig ?? 0;
      expect((await c.kubeconfig()).toString()).toContain('kind: Config');
      expect(node.calls.Kubeconfig! - before).toBe(2);
    } finally {
      c.close();
    }
  });

  it('a stream that ends cleanly but short is an ArchiveError, never a partial kubeconfig', async () => {
    node.faults.kubeconfigTruncate = 40;
    const c = as(pki.admin);
    try {
      await expect(c.kubeconfig()).rejects.toBeInstanceOf(ArchiveError);
    } finally {
      c.close();
    }
  });

  it('a stream that keeps dropping fails with the status, never a partial kubeconfig', async () => {
    node.faults.kubeconfigDrop = { afterChunks: 2, times: 10 };
    const c = as(pki.admin);
    try {
      await expect(c.kubeconfig()).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      c.close();
    }
  });
});

