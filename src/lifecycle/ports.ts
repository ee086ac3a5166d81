// The narrow interfaces across the lifecycle's edge: what it needs from
// services built elsewhere (the daemon injects the real ones, tests inject
// fakes), and the one thing those services may do to node states.
import type { TransitionExtra, TransitionResult } from './machine.js';
import type { NodeState } from './states.js';

/**
 * Changes a node's state through the transition table (the StateMachine).
 * Refusals are recorded and returned, never thrown: the caller decides what
 * its step does when the node is no longer where it expected.
 */
export interface NodeStateWriter {
  transition(name: string, to: NodeState, reason: string, extra?: TransitionExtra): TransitionResult;
}

/** Sends Talos's Reset (wipe and reboot) to a node over its mTLS API. */
export interface NodeResetter {
  reset(nodeName: string): Promise<void>;
}

/** A service's counters for /metrics, by Prometheus metric name (without the rackboot_ prefix). */
export interface MetricsSource {
  metrics(): Record<string, number>;
}

/** The BMC fallback for reimages Talos does not take (src/bmc/auto-power.ts); checked after each reset step and each sweep. */
export interface ResetFallback {
  reimageFallbacks(): void;
}
