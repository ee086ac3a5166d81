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

/** States an operator may send to reimage-pending; cancelling returns to one of them. */
const REIMAGEABLE: readonly NodeState[] = ['registered', 'booting', 'maintenance', 'configuring', 'installing', 'installed', 'ready', 'failed'];

/**
 * Every allowed transition. Anything else is rejected and logged: a late or
 * reordered observation must not drag a node backwards through its life.
 * `failed` is reachable from every working state (a timeout or an error).
 */
export const TRANSITIONS: Readonly<Record<NodeState, readonly NodeState[]>> = {
  // registered → installed adopts a machine found already running Talos from its disk.
  registered: ['booting', 'installed', 'reimage-pending', 'failed'],
  // A PXE boot seen while booting means the node rebooted before Talos came up; it stays booting.
  booting: ['maintenance', 'configuring', 'installing', 'installed', 'reimage-pending', 'failed'],
  maintenance: ['booting', 'configuring', 'reimage-pending', 'failed'],
  configuring: ['installing', 'installed', 'reimage-pending', 'failed'],
  installing: ['installed', 'reimage-pending', 'failed'],
  installed: ['ready', 'reimage-pending', 'failed'],
  ready: ['installed', 'reimage-pending', 'failed'],
  // Cancelling goes back to where the node was; a PXE boot before the reset installs afresh.
  'reimage-pending': [...REIMAGEABLE, 'wiping'],
  wiping: ['booting', 'failed'],
  // A failed node that is still marked reinstalls on its next PXE boot; one that recovers on its own may be seen healthy again.
  failed: ['booting', 'installed', 'ready', 'reimage-pending'],
};

export function isTransitionAllowed(from: NodeState, to: NodeState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function canReimage(state: NodeState): boolean {
  return REIMAGEABLE.includes(state);
}

/** What each state means, in the words the page and the README use. */
export const STATE_MEANING: Readonly<Record<NodeState, string>> = {
  registered: 'in the inventory, never seen on the network',
  booting: 'PXE boot seen; the Talos kernel was handed out',
  maintenance: 'Talos is up without a machine config',
  configuring: 'the machine config was pushed or pulled',
  installing: 'Talos is installing itself to disk',
  installed: 'boots from its disk',
  ready: 'Talos API healthy (and an etcd member for a control plane); the cluster is bootstrapped',
  'reimage-pending': 'marked for reimage; the next PXE boot installs afresh',
  wiping: 'Talos was asked to reset (wipe) and reboot',
  failed: 'a step failed or timed out; see the reason',
};

/** Per-state timeouts in seconds; 0 means the state never times out. */
export type StateTimeouts = Readonly<Record<NodeState, number>>;

export const DEFAULT_TIMEOUTS: StateTimeouts = {
  registered: 0,
  booting: 600,
  maintenance: 900,
  configuring: 600,
  installing: 1800,
  installed: 1800,
  ready: 0,
  'reimage-pending': 0,
  wiping: 600,
  failed: 0,
};
