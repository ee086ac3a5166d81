// What day 2 needs of the world, as small named ports: the node's Talos API
// (ConfigPort), the desired state from the inventory (DesiredState), and the
// gate a rebooting node must pass before the next one is touched
// (NodeHealthGate), and the gate it must pass before it goes down
// (RebootGate; config-gates.ts has the etcd quorum versions of both).
import type { NodeRecord } from '../store/store.js';
import type { ApplyMode, ApplyResult } from '../talos/client.js';

export interface ConfigPort {
  /** ApplyConfiguration over mTLS. */
  apply(node: NodeRecord, config: Buffer, mode: ApplyMode, opts: { dryRun: boolean }): Promise<ApplyResult>;
  /** Version.tag over mTLS. */
  version(node: NodeRecord): Promise<string>;
}

export interface DesiredNode {
  config: Buffer;
  talosVersion: string;
  schematic: string;
  kubernetesVersion: string;
}

/** What the inventory (and secrets, settings) say the node should run; throws when it cannot be rendered. */
export type DesiredState = (node: NodeRecord) => Promise<DesiredNode>;

export type GateResult = { ok: true; detail: string } | { ok: false; reason: string };

/** Resolves when `node`, after an apply that reboots it, is back and healthy on `config`; never throws. */
export type NodeHealthGate = (node: NodeRecord, config: Buffer) => Promise<GateResult>;

/** Whether `node` may go down for a reboot now (a control plane: etcd keeps its quorum without it); never throws. */
export type RebootGate = (node: NodeRecord) => Promise<GateResult>;
