// Configured fake Talos nodes on 127.0.0.x, the control planes backed by a
// real etcd cluster (Debian etcd-server) with one member per control plane.
import { RealEtcdCluster } from '../../src/lab/fake-talos/real-etcd.js';
import type { ProfileName } from '../../src/lab/fake-talos/profiles.js';
import { TalosClient } from '../../src/talos/client.js';
import type { AdminIdentity } from '../../src/talos/credentials.js';
import { makeTestPki, type TestPki } from '../fakes/pki.js';
import { minimalMachineConfig } from '../fakes/machine-config.js';
import { FakeEtcd } from '../fakes/talos-cluster.js';
import { FakeTalosNode } from '../fakes/talos-node.js';
import { freePort, waitFor } from '../talos/helpers.js';

export const FAST = { timeoutMs: 1500, retries: 1, backoffMs: 10, maxBackoffMs: 20 };

export interface EtcdRack {
  pki: TestPki;
  admin: AdminIdentity;
  etcd: RealEtcdCluster;
  fakes: Map<string, FakeTalosNode>;
  connect(endpoint: string): TalosClient;
  close(): Promise<void>;
}

/** `controlPlanes` cp1..cpN with etcd members, `workers` w1..wM without; hosts from 127.0.0.`firstHost`. */
export async function makeEtcdRack(controlPlanes: number, workers = 0, opts: { firstHost?: number; port?: number; profile?: (name: string) => ProfileName | undefined } = {}): Promise<EtcdRack> {
  const cpNames = Array.from({ length: controlPlanes }, (_, i) => `cp${i + 1}`);
  const names = [...cpNames, ...Array.from({ length: workers }, (_, i) => `w${i + 1}`)];
  const pki = await makeTestPki();
  const admin = { ca: pki.osCa.crt, crt: pki.admin.crt, key: pki.admin.key };
  const etcd = await RealEtcdCluster.start(cpNames);
  const fakes = new Map<string, FakeTalosNode>();
  const rack: EtcdRack = {
    pki, admin, etcd, fakes,
    connect: (endpoint) => TalosClient.configured(endpoint, admin, { policy: FAST }),
    async close() {
      for (const f of fakes.values()) await f.stop();
      await etcd.stop();
    },
  };
  try {
    for (const [i, name] of names.entries()) {
      const host = `127.0.0.${(opts.firstHost ?? 61) + i}`;
      const node = new FakeTalosNode({
        host, port: opts.port ?? (await freePort(host)), hostname: name, etcd: new FakeEtcd(), realEtcd: etcd, profile: opts.profile?.(name),
        maintenanceCert: await pki.selfSigned([host]), serverCert: await pki.serverCert([host]), installDelayMs: 5,
      });
      fakes.set(name, node);
      await node.start();
      const m = await TalosClient.maintenance(node.endpoint, { policy: FAST });
      await m.applyConfiguration(minimalMachineConfig({ type: name.startsWith('cp') ? 'controlplane' : 'worker', osCaPem: pki.osCa.crt, hostname: name }), 'AUTO');
      m.close();
      await waitFor(() => node.mode === 'configured', 3000, `${name} configured`);
    }
  } catch (err) {
    await rack.close();
    throw err;
  }
  return rack;
}
