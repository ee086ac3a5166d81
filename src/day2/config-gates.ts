// The gates around a config apply that reboots a node, on the same etcd
// rules as the Talos upgrade rollout (quorum-gate.ts, after upstream's
// ValidateForUpgrade in internal/pkg/etcd/etcd.go): before a control plane
// goes down, every etcd member started and healthy, a 2-member etcd refused,
// and a healthy majority left without it; after it is back on its new
// config, the whole etcd passes the gate again before the next node.
// Workers take no etcd member down: they only wait to be back.
import { NODE_STATES } from '../lifecycle/states.js';
import type { NodeRecord, Store } from '../store/store.js';
import type { EndpointOf } from '../talos/endpoints.js';
import { simpleHealthGate, type SimpleGateDeps } from './gate.js';
import type { NodeHealthGate, RebootGate } from './ports.js';
import { checkQuorum, type ControlPlane } from './quorum-gate.js';

export interface QuorumGateDeps extends SimpleGateDeps {
  /** Every control plane rackboot knows with an address: whom to ask about etcd. */
  controlPlanes: () => ControlPlane[];
  /** Let a one-member etcd through (etcd is down while its only node reboots). */
  allowSingleMember?: boolean;
}

/** The control planes of the store, whatever their state: a member whose node is not listed counts as unhealthy. */
export function storeControlPlanes(store: Store, endpointOf: EndpointOf): () => ControlPlane[] {
  return () => store.nodesInStates(NODE_STATES, 'controlplane')
    .flatMap((n) => { const endpoint = endpointOf(n); return endpoint ? [{ name: n.name, endpoint }] : []; });
}

export function quorumRebootGate(deps: QuorumGateDeps): RebootGate {
  return async (node: NodeRecord) => {
    if (node.role !== 'controlplane') return { ok: true, detail: 'a worker: no etcd member goes down' };
    const v = await checkQuorum(deps.controlPlanes(), deps.connect, { takingDown: node.name, allowSingleMember: deps.allowSingleMember });
    return v.ok ? { ok: true, detail: `etcd keeps its quorum without ${node.name}` } : { ok: false, reason: `quorum gate: ${v.reason}` };
  };
}

export function quorumHealthGate(deps: QuorumGateDeps): NodeHealthGate {
  return simpleHealthGate(deps, async () => {
    const v = await checkQuorum(deps.controlPlanes(), deps.connect, { allowSingleMember: deps.allowSingleMember });
    return v.ok ? { ok: true, detail: `etcd: ${v.members.length} member(s) healthy` } : { ok: false, reason: `etcd after the apply: ${v.reason}` };
  });
}
