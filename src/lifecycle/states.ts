// The states a node moves through. The happy path is
// registered → booting → maintenance → configuring → installing → installed → ready;
// a reimage goes reimage-pending → wiping and back to booting.
export const NODE_STATES = [
  'registered',
  'booting',
  'maintenance',
  'configuring',
  'installing',
  'installed',
  'ready',
  'reimage-pending',
  'wiping',
  'failed',
] as const;

export type NodeState = (typeof NODE_STATES)[number];

export function isNodeState(s: string): s is NodeState {
  return (NODE_STATES as readonly string[]).includes(s);
}

/** States in which a node is being provisioned and may fetch its machine config. */
export const PROVISIONING_STATES: readonly NodeState[] = ['booting', 'maintenance', 'configuring', 'installing'];
