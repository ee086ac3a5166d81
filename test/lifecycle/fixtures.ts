import type { Inventory, NodeSpec } from '../../src/inventory/types.js';

export function nodeSpec(name: string, mac: string, role: NodeSpec['role'] = 'worker', extra: Partial<NodeSpec> = {}): NodeSpec {
  return { name, mac, role, installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [], ...extra };
}

export function inventory(nodes: NodeSpec[]): Inventory {
  return {
    cluster: {
      name: 'lab', controlPlaneEndpoint: 'https://10.0.0.10:6443', talosVersion: 'v1.11.5',
      schematic: { extensions: [], extraKernelArgs: [] }, cni: 'flannel', configMode: 'push',
      patches: { all: [], controlplane: [], worker: [] },
    },
    nodes,
  };
}

/** A clock tests move by hand. */
export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}
