import { createServer } from 'node:net';
import { TalosClient } from '../../src/talos/client.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { FakeEtcd } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';

/** A TCP port free on `host` right now. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One fake control plane on loopback, already configured (mTLS), with the PKI that configured it. */
export async function configuredFakeNode(policy: { timeoutMs: number; retries: number; backoffMs: number; maxBackoffMs: number }): Promise<{ pki: TestPki; node: FakeTalosNode }> {
  const host = '127.0.0.1';
  const pki = await makeTestPki();
  const node = new FakeTalosNode({
    host, port: await freePort(host), hostname: 'cp1', etcd: new FakeEtcd(),
    maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]), installDelayMs: 5,
  });
  node.faults.kubeconfigChunkSize = 37;
  await node.start();
  const m = await TalosClient.maintenance(node.endpoint, { policy });
  await m.applyConfiguration(minimalMachineConfig({ type: 'controlplane', osCaPem: pki.osCa.crt }), 'AUTO');
  m.close();
  await waitFor(() => node.mode === 'configured', 2000);
  return { pki, node };
}

export function clearFaults(node: FakeTalosNode): void {
  node.faults = { delayMs: {}, metadataError: {}, status: {}, kubeconfigChunkSize: 37, unhealthy: [] };
}
