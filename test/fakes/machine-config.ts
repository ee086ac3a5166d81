// A minimal machine config that the upstream v1.11 schema accepts: enough
// for the fake node to learn its role, its OS CA and its install disk.
import { stringify } from 'yaml';

export function minimalMachineConfig(opts: { type: 'controlplane' | 'worker'; osCaPem: string; installDisk?: string; hostname?: string; clusterName?: string }): Buffer {
  const doc = {
    version: 'v1alpha1',
    debug: false,
    machine: {
      type: opts.type,
      token: 'abcdef.0123456789abcdef',
      ca: { crt: Buffer.from(opts.osCaPem).toString('base64'), key: '' },
      certSANs: [],
      install: { disk: opts.installDisk ?? '/dev/sda', wipe: false },
      ...(opts.hostname ? { network: { hostname: opts.hostname } } : {}),
    },
    cluster: {
      clusterName: opts.clusterName ?? 'rackboot',
      controlPlane: { endpoint: 'https://cp.example:6443' },
      network: { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] },
    },
  };
  return Buffer.from(stringify(doc));
}
