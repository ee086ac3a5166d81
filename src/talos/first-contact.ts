// First contact, push mode: once a node runs Talos in maintenance mode we
// find its API, optionally check that the install disk exists, and send its
// machine config. Each step is an event, and each state is committed before
// the step it names is attempted, so a restart resumes at the right place.
// A pass pushes to every booting node at once: each first waits, without
// TLS, for its API port to accept (port-open.ts), and only then talks to it
// over TLS, in one of TALKS_IN_FLIGHT lanes.
import type { NodeRecord, Store } from '../store/store.js';
import { TalosClient } from './client.js';
import { ClientClosedError, TalosCallError } from './errors.js';
import { moveNode, type NodeStateDeps } from './node-state.js';
import type { RetryPolicy } from './rpc.js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { devicePath, matchInstallDisk } from './install-disk.js';
import { collectHardware } from './hardware-collect.js';
import { readNodeHostname } from './node-hostname.js';
import { describeDisk, describeSelector, refusalText, selectDisk } from './disk-selector.js';
import { recordInstallDisk } from '../store/hardware.js';
import { appliedModeText, probeMaintenance, type MaintenanceProbe } from './maintenance-probe.js';
import { recordApplied } from '../day2/applied.js';
import { Lanes } from '../in-lanes.js';
import { PORT_CHECK_MS, portAccepts } from './port-open.js';

type MaintenanceFound = Extract<MaintenanceProbe, { maintenance: true }>;

export interface FirstContactDeps extends NodeStateDeps {
  store: Store;
  /** `chosen.installDisk`: the disk an install-disk selector resolved to, for the config to name. */
  renderConfig: (nodeName: string, chosen?: { installDisk: string }) => Promise<Buffer>;
  /** A maintenance-mode client for this node's endpoint (`node`: whose it is, for its pinned certificate). */
  connect?: (endpoint: string, node: string) => Promise<TalosClient>;
  /** Ask Disks for the inventory's installDisk before sending the config. */
  checkInstallDisk?: boolean;
  pollIntervalMs?: number;
  pollTimeoutMs?: number;
  policy?: Partial<RetryPolicy>;
  /** Default TALKS_IN_FLIGHT. */
  talksInFlight?: number;
}

/** `refused`: the node moved while we talked to it (an operator's reimage mark); the push stopped there. */
export type FirstContactResult = 'installing' | 'failed' | 'not-answering' | 'skipped' | 'closed' | 'refused';

const PUSH_STATES = ['booting', 'maintenance', 'configuring'];

/**
 * Nodes talked to over TLS at once. A pass starts a push for every booting
 * node; 151 fake nodes in maintenance all talked to at once held the event
 * loop 335 ms (the health probes' lanes: 18-21 ms at 8).
 */
export const TALKS_IN_FLIGHT = 8;

export class FirstContact {
  private closed = false;
  private readonly clients = new Set<TalosClient>();
  private readonly wakers = new Set<() => void>();
  /** Nodes whose polling was already recorded: a node that takes minutes to boot gets one event, not one per pass. */
  private readonly announced = new Set<string>();
  private readonly lanes: Lanes;

  constructor(private readonly deps: FirstContactDeps) {
    this.lanes = new Lanes(deps.talksInFlight ?? TALKS_IN_FLIGHT);
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients) c.close();
    for (const w of this.wakers) w();
  }

  private event(node: NodeRecord, message: string, data?: unknown): void {
    this.deps.store.appendEvent({ node: node.name, mac: node.mac, kind: 'talos', message, data });
    this.deps.log?.info({ node: node.name, ...(data as object) }, message);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => (clearTimeout(t), this.wakers.delete(wake), resolve());
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Polls, without TLS, until something accepts connections at the endpoint; false at the deadline. */
  private async waitForPort(endpoint: string, deadline: number): Promise<boolean> {
    while (!this.closed && Date.now() < deadline) {
      if (await portAccepts(endpoint, PORT_CHECK_MS)) return true;
      const interval = this.deps.pollIntervalMs ?? 2000;
      if (Date.now() + interval >= deadline) break;
      await this.sleep(interval);
    }
    return false;
  }

  /** Polls until the node answers as Talos in maintenance mode (maintenance-probe.ts: how each version shows it). */
  private async waitForMaintenance(node: NodeRecord, endpoint: string, deadline: number): Promise<{ client: TalosClient; probe: MaintenanceFound } | undefined> {
    const connect = this.deps.connect ?? ((ep: string) => TalosClient.maintenance(ep, { policy: { retries: 0, ...this.deps.policy } }));
    let lastError = '';
    // At least one try: the port answered, perhaps just before the deadline or while this push waited for a lane.
    for (let first = true; !this.closed && (first || Date.now() < deadline); first = false) {
      let client: TalosClient | undefined;
      try {
        client = await connect(endpoint, node.name);
        this.clients.add(client);
        const probe = await probeMaintenance(client);
        if (probe.maintenance) return { client, probe };
        lastError = probe.why;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (client) (client.close(), this.clients.delete(client));
      const interval = this.deps.pollIntervalMs ?? 2000;
      // No sleep that would end past the deadline: it would hold a lane for nothing.
      if (Date.now() + interval >= deadline) break;
      await this.sleep(interval);
    }
    if (!this.closed) this.deps.log?.debug({ node: node.name, endpoint, error: lastError }, 'maintenance API did not answer yet');
    return undefined;
  }

  /** Runs the push for one node; safe to call again after a restart. */
  async push(name: string, endpoint: string): Promise<FirstContactResult> {
    const node = this.deps.store.getNode(name);
    if (!node || !node.inInventory || !PUSH_STATES.includes(node.state)) return 'skipped';
    if (node.spec.configMode === 'pull') return 'skipped';
    if (!this.announced.has(`${name}@${endpoint}`)) {
      this.announced.add(`${name}@${endpoint}`);
      this.event(node, `first contact: polling the maintenance API at ${endpoint}`, { endpoint });
    }
    const deadline = Date.now() + (this.deps.pollTimeoutMs ?? 10 * 60_000);
    if (!(await this.waitForPort(endpoint, deadline))) return this.closed ? 'closed' : 'not-answering';
    return this.lanes.run(() => this.talk(node, endpoint, deadline));
  }

  /** The TLS part of a push, in one of the lanes: find the maintenance API, check the disk, send the config. */
  private async talk(node: NodeRecord, endpoint: string, deadline: number): Promise<FirstContactResult> {
    const { store } = this.deps;
    const name = node.name;
    const found = await this.waitForMaintenance(node, endpoint, deadline);
    if (!found) return this.closed ? 'closed' : 'not-answering';
    const { client, probe } = found;
    try {
      const answers = `Talos maintenance API answers at ${endpoint}: ${probe.how}`;
      if (node.state === 'booting') {
        const r = moveNode(this.deps, node, 'maintenance', answers);
        if (!r.ok) return 'refused';
        node = r.node;
      } else this.event(node, answers, { endpoint, api: probe.api });

      const facts = await collectHardware(store, node, client, endpoint);
      await readNodeHostname(store, node.name, client, 'maintenance');

      let chosen: { installDisk: string } | undefined;
      const wanted = node.spec.installDisk;
      if (typeof wanted !== 'string') {
        if (!facts) {
          const r = moveNode(this.deps, node, 'failed', `install disk selector ${describeSelector(wanted)} cannot be resolved: the node's disks could not be read (see the events)`);
          return r.ok ? 'failed' : 'refused';
        }
        const match = selectDisk(wanted, facts.disks);
        if (match.kind !== 'one') {
          const r = moveNode(this.deps, node, 'failed', refusalText(wanted, match));
          return r.ok ? 'failed' : 'refused';
        }
        chosen = { installDisk: match.disk.devPath };
        recordInstallDisk(store, node.name, match.disk.devPath, Date.now());
        this.event(node, `install disk selector ${describeSelector(wanted)} chose ${describeDisk(match.disk)}`, { selector: wanted, disk: match.disk });
      } else if (this.deps.checkInstallDisk) {
        const disks = await client.disks();
        const paths = disks.map(devicePath);
        this.event(node, `disks: ${paths.join(', ') || 'none'}`, { disks: paths });
        const match = matchInstallDisk(wanted, disks);
        if (match.kind === 'absent') {
          const r = moveNode(this.deps, node, 'failed', `install disk ${wanted} not found on the node (it has ${paths.join(', ') || 'no disks'})`);
          return r.ok ? 'failed' : 'refused';
        }
        this.event(node, match.kind === 'found'
          ? `install disk ${wanted} is ${match.device} (${match.via})`
          : `install disk not checked: ${match.why}`, { installDisk: wanted, match });
      }

      // Committed before the config leaves: a node marked for reimage by now gets no config at all.
      const configuring = moveNode(this.deps, node, 'configuring', `sending the machine config to ${endpoint}`);
      if (!configuring.ok) return 'refused';
      node = configuring.node;
      const config = await this.deps.renderConfig(name, chosen);
      const res = await client.applyConfiguration(config, 'AUTO');
      recordApplied(store, name, config, { via: 'push', mode: res.mode, modeDetails: res.modeDetails });
      const applied = appliedModeText('AUTO', res.mode, probe.api);
      this.event(node, `config applied: ${applied}${res.modeDetails ? ` (${res.modeDetails})` : ''}`,
        { requested: 'AUTO', reported: probe.api === 'maintenance-service' && res.mode === 'REBOOT' ? null : res.mode, warnings: res.warnings });
      return moveNode(this.deps, node, 'installing', 'config accepted; Talos installs to disk and reboots').ok ? 'installing' : 'refused';
    } catch (err) {
      if (err instanceof ClientClosedError || this.closed) return 'closed';
      // Talos ≤ v1.12's maintenance service answers an unparsable config with a plain error (Unknown, "failed to parse config").
      if (err instanceof TalosCallError && (err.code === GrpcStatus.INVALID_ARGUMENT
        || (err.code === GrpcStatus.UNKNOWN && err.details.startsWith('failed to parse config')))) {
        return moveNode(this.deps, node, 'failed', `Talos rejected the machine config: ${err.details}`).ok ? 'failed' : 'refused';
      }
      // The node stays in its state: the next pass tries again from here.
      this.event(node, `first contact failed: ${(err as Error).message}`, { error: (err as Error).message });
      return 'not-answering';
    } finally {
      client.close();
      this.clients.delete(client);
    }
  }
}
