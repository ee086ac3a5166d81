// A Talos node that sends part of the Kubeconfig stream and then hangs with
// the stream open (no data, no end, no error). Only the per-attempt deadline
// can end such a call: it must, the retry must start from scratch, and no
// partial kubeconfig may ever come out.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import type { TestPki } from '../fakes/pki.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { clearFaults, configuredFakeNode } from '../talos/helpers.js';

const POLICY = { timeoutMs: 800, retries: 2, backoffMs: 20, maxBackoffMs: 50 };
let pki: TestPki;
let node: FakeTalosNode;

beforeAll(async () => {
  ({ pki, node } = await configuredFakeNode(POLICY));
});
afterAll(async () => node?.stop());
afterEach(() => clearFaults(node));

const admin = () => TalosClient.configured(node.endpoint, { ca: pki.osCa.crt, crt: pki.admin.crt, key: pki.admin.key }, { policy: POLICY });

describe('a Talos node hanging mid-stream', () => {
  it('one hang: the deadline ends the attempt and the retry fetches the whole kubeconfig', async () => {
    node.faults.kubeconfigHang = { afterChunks: 3, times: 1 };
    const c = admin();
    try {
      const before = node.calls.Kubeconfig ?? 0;
      const started = Date.now();
      const text = (await c.kubeconfig()).toString();
      expect(text).toContain('kind: Config');
      expect(text).toContain('current-context: admin@rackboot');
      expect(node.calls.Kubeconfig! - before).toBe(2);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(POLICY.timeoutMs - 50);
      expect(took).toBeLessThan(POLICY.timeoutMs + 1_500);
    } finally {
      c.close();
    }
  });

  it('a node that hangs every time: DEADLINE_EXCEEDED after the retries, in bounded time, never a partial kubeconfig', async () => {
    node.faults.kubeconfigHang = { afterChunks: 2, times: 100 };
    const c = admin();
    try {
      const before = node.calls.Kubeconfig ?? 0;
      const started = Date.now();
      await expect(c.kubeconfig()).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
      expect(node.calls.Kubeconfig! - before).toBe(POLICY.retries + 1);
      expect(Date.now() - started).toBeLessThan((POLICY.retries + 1) * POLICY.timeoutMs + 1_500);
    } finally {
      c.close();
    }
  });

  it('the node answers other calls while a stream hangs, and close() ends the hung call at once', async () => {
    node.faults.kubeconfigHang = { afterChunks: 1, times: 100 };
    const c = admin();
    const pending = c.kubeconfig();
    const outcome = pending.then(() => 'resolved', (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.version()).version).toBeTruthy();
    const started = Date.now();
    c.close();
    const result = await outcome;
    expect(result).not.toBe('resolved');
    expect(Date.now() - started).toBeLessThan(300);
  });
});
