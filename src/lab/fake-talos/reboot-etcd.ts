// A control plane's etcd member goes down with its node's reboot and starts
// again when the node is back. Upstream: the Reboot sequence (not FORCE)
// stops every service before rebooting (v1alpha1_sequencer.go Reboot →
// stopAllPhaselist, v1.12.0), etcd among them; etcd is a machined service
// that starts again at boot on a control plane. A config apply in mode
// REBOOT runs that same sequence (v1alpha1_server.go ApplyConfiguration).
import type { RealEtcdCluster } from './real-etcd.js';

export interface EtcdRebootingNode {
  readonly opts: { hostname: string; realEtcd?: RealEtcdCluster };
  readonly config?: { type: string };
  later(ms: number, fn: () => void): void;
}

/** Called as the node's API goes down for `downMs`: its real etcd member (if any) is down as long. */
export function etcdDownWhileRebooting(n: EtcdRebootingNode, downMs: number): void {
  const etcd = n.config?.type === 'controlplane' ? n.opts.realEtcd : undefined;
  if (!etcd || !etcd.names().includes(n.opts.hostname)) return;
  const killed = etcd.kill(n.opts.hostname);
  n.later(downMs, () => void killed.then(() => etcd.restart(n.opts.hostname)));
}
