// After bootstrap: the cluster is healthy when etcd has one member per
// control plane that is up, and every control plane that is up reports
// kubelet and apid healthy. An installed node becomes ready when the cluster
// is healthy and its own kubelet and apid are: a worker whose kubelet is down
// keeps itself installed, not the rest of the rack. Then the kubeconfig is
// fetched into data/kubeconfig (0600) (again when the store marks it stale:
// etcd was destroyed and bootstrapped afresh).
//
// A pass costs the same in a rack of ten as in a rack of thousands: it
// probes every control plane (they gate the cluster, and there are a few),
// then installed workers in turn, at most WORKERS_PER_PASS of them, with at
// most PROBES_IN_FLIGHT connections open at once. Ready workers are not
// probed again: nothing here moves a ready node back, and probing 5,000 of
// them was 5,000 mTLS handshakes on the main thread every pass.
import { chmodSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeRecord, Store } from '../store/store.js';
import type { ClusterStateStore } from '../store/cluster-state-store.js';
import { ETCD_MEMBERS_KEY, KUBECONFIG_STALE_KEY, KUBECONFIG_STALE_SINCE_KEY } from '../lifecycle/cluster-state.js';
import { bootstrapNode, bootstrapState } from './bootstrap.js';
import type { ServiceInfo, TalosClient } from './client.js';
import type { EndpointOf } from './endpoints.js';
import { moveNode, type NodeStateDeps } from './node-state.js';
import type { NodeState } from '../lifecycle/states.js';
import { inLanes } from '../in-lanes.js';

export const REQUIRED_SERVICES = ['apid', 'kubelet'];

/**
 * The required services a node's ServiceList does not report healthy. One
 * entry per id: machined keeps its services in a map keyed by id and lists
 * its values (internal/app/machined/pkg/system/system.go, v1.12.11).
 */
export function unhealthyServices(services: readonly ServiceInfo[]): string[] {
  return REQUIRED_SERVICES.filter((id) => !services.some((s) => s.id === id && s.health?.healthy));
}
/** Installed workers probed in one pass; the next pass takes the next ones. */
export const WORKERS_PER_PASS = 128;
/**
 * Probes under way at once: each is a TLS handshake and a gRPC call, and
 * handshakes that finish together run back to back on the main thread.
 * 150 probes (fake nodes in the same process): the longest event-loop
 * delay was 18-21 ms at 4 or 8 at once, 29-31 at 16, 54-55 at 32, 150-470
 * all at once; the step took 0.8-1.0 s in each case.
 */
export const PROBES_IN_FLIGHT = 8;

export interface HealthDeps extends NodeStateDeps {
  store: Store;
  connect: (endpoint: string) => TalosClient;
  endpointOf: EndpointOf;
  dataDir: string;
  /** Several appliances: the etcd member list goes to the shared cluster state (every appliance's page and reimage check read it). */
  clusterState?: ClusterStateStore;
  /** Tests shrink these to see the turns; the daemon uses WORKERS_PER_PASS and PROBES_IN_FLIGHT. */
  probes?: { workersPerPass?: number; inFlight?: number };
}

export type HealthOutcome =
  /** `nodes`: what this pass probed and found ready; `unhealthy`: installed workers it probed that stay installed, and why. */
  | { kind: 'ready'; nodes: string[]; kubeconfig: string; unhealthy: string[] }
  | { kind: 'waiting'; reason: string };

export function kubeconfigPath(dataDir: string): string {
  return join(dataDir, 'kubeconfig');
}

/** Written to a temporary file with mode 0600 first, then renamed: never readable by others, never half-written. */
export function writeSecretFile(path: string, data: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Why this appliance's kubeconfig file is to be fetched (again), or undefined if it is current: missing, marked stale
 * here, or (several appliances on one store) written before another appliance recorded an etcd loss
 * (KUBECONFIG_STALE_SINCE_KEY). The last compares two appliances' clocks: a skew of seconds does not matter beside the
 * reinstall and bootstrap between an etcd loss and the next fetch.
 */
export function kubeconfigFetchReason(store: Store, file: string): 'missing' | 'stale' | undefined {
  let writtenAt: number;
  try {
    writtenAt = statSync(file).mtimeMs;
  } catch {
    return 'missing';
  }
  if (store.getClusterState(KUBECONFIG_STALE_KEY) === 'true') return 'stale';
  const since = Number(store.readers.clusterState(KUBECONFIG_STALE_SINCE_KEY));
  return since > writtenAt ? 'stale' : undefined;
}

const UP_STATES: readonly NodeState[] = ['installed', 'ready'];

export class ClusterHealth {
  /** Where the next pass starts in the list of installed workers. */
  private workerTurn = 0;
  /** Why each worker that stays installed was last said to: its page gets one event per change, not one per pass. */
  private readonly toldWhy = new Map<string, string>();

  constructor(private readonly deps: HealthDeps) {}

  /** The next installed workers in turn, so each is probed within a few passes however many install at once. */
  private workersInTurn(): NodeRecord[] {
    const all = this.deps.store.nodesInStates(['installed'], 'worker');
    const count = this.deps.probes?.workersPerPass ?? WORKERS_PER_PASS;
    if (all.length <= count) return all;
    const start = this.workerTurn % all.length;
    this.workerTurn = start + count;
    return [...all.slice(start), ...all.slice(0, start)].slice(0, count);
  }

  private async probe(node: NodeRecord): Promise<{ up: boolean; healthy: boolean; why: string }> {
    const endpoint = this.deps.endpointOf(node);
    if (!endpoint) return { up: false, healthy: false, why: 'no address' };
    const client = this.deps.connect(endpoint);
    try {
      const services = await client.serviceList();
      const bad = unhealthyServices(services);
      return { up: true, healthy: bad.length === 0, why: bad.length ? `${bad.join(', ')} not healthy` : '' };
    } catch (err) {
      return { up: false, healthy: false, why: (err as Error).message };
    } finally {
      client.close();
    }
  }

  /**
   * The cluster is healthy but this worker is not, so it stays installed: said on its page (the pass report
   * reaches no operator), until its `installed` timeout fails it. `key` leaves out what changes every pass
   * (a connection error's text carries a time).
   */
  private tell(node: NodeRecord, key: string, why: string): void {
    if (this.toldWhy.get(node.name) === key) return;
    this.toldWhy.set(node.name, key);
    this.deps.store.appendEvent({ node: node.name, mac: node.mac, kind: 'health', message: `not ready yet, the cluster is healthy: ${why}` });
  }

  async step(): Promise<HealthOutcome> {
    const { store } = this.deps;
    if (bootstrapState(store) !== 'bootstrapped') return { kind: 'waiting', reason: 'etcd not bootstrapped yet' };
    const nodes = [...store.nodesInStates(UP_STATES, 'controlplane'), ...this.workersInTurn()];
    const probes = await inLanes(nodes, this.deps.probes?.inFlight ?? PROBES_IN_FLIGHT, async (n) => ({ node: n, ...(await this.probe(n)) }));
    const cpsUp = probes.filter((p) => p.up && p.node.role === 'controlplane');
    const sick = cpsUp.filter((p) => !p.healthy);
    if (sick.length) return { kind: 'waiting', reason: sick.map((p) => `${p.node.name}: ${p.why}`).join('; ') };
    if (cpsUp.length === 0) return { kind: 'waiting', reason: 'no control plane answers' };

    const asker = cpsUp.find((p) => p.node.name === bootstrapNode(store)?.name) ?? cpsUp[0]!;
    const client = this.deps.connect(this.deps.endpointOf(asker.node)!);
    try {
      const members = await client.etcdMemberList();
      const memberList = JSON.stringify(members.map((m) => m.hostname).sort());
      if (this.deps.clusterState) await this.deps.clusterState.set(ETCD_MEMBERS_KEY, memberList);
      else store.setClusterState(ETCD_MEMBERS_KEY, memberList);
      if (members.length !== cpsUp.length) {
        return { kind: 'waiting', reason: `etcd has ${members.length} member(s), ${cpsUp.length} control plane(s) are up` };
      }
      const file = kubeconfigPath(this.deps.dataDir);
      if (kubeconfigFetchReason(store, file)) {
        writeSecretFile(file, await client.kubeconfig());
        if (store.getClusterState(KUBECONFIG_STALE_KEY) === 'true') store.setClusterState(KUBECONFIG_STALE_KEY, 'false');
        store.appendEvent({ node: asker.node.name, kind: 'kubeconfig', message: `kubeconfig fetched from ${asker.node.name} into ${file}` });
      }
      const reason = `healthy: ${REQUIRED_SERVICES.join(', ')} up; etcd has ${members.length} member(s)`;
      const ready: string[] = [];
      const unhealthy: string[] = [];
      for (const p of probes) {
        if (!p.up || !p.healthy) {
          if (p.node.role === 'worker') {
            unhealthy.push(`${p.node.name}: ${p.why}`);
            this.tell(p.node, p.up ? p.why : 'down', p.up ? p.why : `its Talos API does not answer: ${p.why}`);
          }
          continue;
        }
        this.toldWhy.delete(p.node.name);
        // A node marked for reimage while we probed stays marked, and is not reported ready.
        if (p.node.state === 'ready' || moveNode(this.deps, p.node, 'ready', reason).ok) ready.push(p.node.name);
      }
      return { kind: 'ready', nodes: ready, kubeconfig: file, unhealthy };
    } catch (err) {
      return { kind: 'waiting', reason: `health check failed: ${(err as Error).message}` };
    } finally {
      client.close();
    }
  }
}
