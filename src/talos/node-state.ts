// How the Talos steps change node states: through the lifecycle's state
// machine (the one writer), and only from the state the step read before
// its Talos calls. An operator may mark a node for reimage, or cancel one,
// while a call is in flight; then the machine refuses the move and records
// it, and the step stops for that node instead of undoing the operator.
import type { TransitionResult } from '../lifecycle/machine.js';
import type { NodeStateWriter } from '../lifecycle/ports.js';
import type { NodeState } from '../lifecycle/states.js';
import type { Logger } from '../log.js';
import type { NodeRecord } from '../store/store.js';

export interface NodeStateDeps {
  states: NodeStateWriter;
  log?: Logger;
}

/** Moves `node` on from the state it was read in; a refusal is returned, not thrown. */
export function moveNode(deps: NodeStateDeps, node: NodeRecord, to: NodeState, reason: string, extra: { markedForInstall?: boolean } = {}): TransitionResult {
  const r = deps.states.transition(node.name, to, reason, { ...extra, from: node.state });
  if (!r.ok) deps.log?.info({ node: node.name, from: node.state, to }, `Talos step for ${node.name} stops: ${r.error}`);
  return r;
}
