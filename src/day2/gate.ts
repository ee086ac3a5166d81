// The simple health gate between rebooting config applies: the node answers
// on its API with the expected config live (a dry-run apply of that config
// reports "No changes.", upstream generateDiff in v1alpha1_server.go), and a
// control plane's own etcd answers with members (talos/etcd-status.ts).
// The CLI and the daemon use the quorum version of it (config-gates.ts).
import type { NodeRecord } from '../store/store.js';
import type { TalosClient } from '../talos/client.js';
import { withTalosClient, type ConnectTalos, type EndpointOf } from '../talos/endpoints.js';
import { describeEtcd, etcdStatus } from '../talos/etcd-status.js';
import type { GateResult, NodeHealthGate } from './ports.js';

export interface SimpleGateDeps {
  connect: ConnectTalos;
  endpointOf: EndpointOf;
  timeoutMs?: number;
  intervalMs?: number;
}

const NO_CHANGES = /Config diff:\s*No changes\.\s*$/;

/** A control plane's etcd after the node is back on its config: the client is the node's own. */
export type EtcdCheck = (c: TalosClient, node: NodeRecord) => Promise<GateResult>;

const ownEtcdHasMembers: EtcdCheck = async (c) => {
  const etcd = await etcdStatus(c);
  return etcd.kind === 'members' ? { ok: true, detail: describeEtcd(etcd) } : { ok: false, reason: `etcd: ${describeEtcd(etcd)}` };
};

async function checkOnce(deps: SimpleGateDeps, node: NodeRecord, config: Buffer, etcdCheck: EtcdCheck): Promise<GateResult> {
  try {
    return await withTalosClient(deps.connect, deps.endpointOf(node), 'no address', async (c) => {
      const dry = await c.applyConfiguration(config, 'AUTO', { dryRun: true });
      if (!NO_CHANGES.test(dry.modeDetails)) return { ok: false, reason: 'the node does not run the applied config yet' };
      if (node.role !== 'controlplane') return { ok: true, detail: 'answers on the applied config' };
      const etcd = await etcdCheck(c, node);
      return etcd.ok ? { ok: true, detail: `answers on the applied config; ${etcd.detail}` } : etcd;
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export function simpleHealthGate(deps: SimpleGateDeps, etcdCheck: EtcdCheck = ownEtcdHasMembers): NodeHealthGate {
  return async (node, config) => {
    const until = Date.now() + (deps.timeoutMs ?? 15 * 60_000);
    let last: GateResult = { ok: false, reason: 'not checked' };
    while (Date.now() < until) {
      last = await checkOnce(deps, node, config, etcdCheck);
      if (last.ok) return last;
      await new Promise((r) => setTimeout(r, deps.intervalMs ?? 5000));
    }
    return { ok: false, reason: `not healthy after ${Math.round((deps.timeoutMs ?? 15 * 60_000) / 1000)}s: ${last.reason}` };
  };
}
