// The data the page and the JSON API share: one function per view, so the
// page never shows something the API cannot give a script, and vice versa.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { schematicId } from '../../factory/schematic.js';
import { archesIn } from '../../factory/assets.js';
import { discoveredView, inventorySnippet, type DiscoveredView } from '../../lifecycle/discovery.js';
import { bootstrapState, etcdMembers } from '../../lifecycle/cluster-state.js';
import { STATE_MEANING, NODE_STATES, type NodeState } from '../../lifecycle/states.js';
import { formatDuration } from '../../lifecycle/sweeper.js';
import type { HttpContext } from '../context.js';
import { recordedTalosServiceState } from '../../talos/service.js';
import type { EventRecord, NodeRecord, Store } from '../../store/store.js';
import { PowerMonitor, type PowerView } from '../../bmc/power-monitor.js';

export interface NodeView {
  name: string; mac: string; role: string; ip: string | null; uuid: string | null;
  /** The hostname the node's DHCP client sent (network input). */
  hostname: string | null;
  state: NodeState; stateMeaning: string; stateReason: string; stateSince: number;
  failedStep: string | null;
  /** For a failed node: what went wrong and what to do, in plain words. */
  failedText: string | null;
  markedForInstall: boolean; lastSeen: number | null;
  lastEvent: { at: number; kind: string; message: string } | null;
  /** Power state and BMC reachability as last read; null when the inventory gives the node no BMC. */
  power: PowerView | null;
}

/** A node's power as the monitor last read it (null: no BMC in the inventory). */
export type PowerLookup = (name: string) => PowerView | null;

/** The context's power monitor, made on first use so the API works without the daemon's poller. */
export function powerMonitor(ctx: HttpContext): PowerMonitor {
  return (ctx.power ??= new PowerMonitor({ dataDir: ctx.settings.dataDir, nodes: () => ctx.inventory()?.nodes ?? [], timeoutMs: ctx.settings.bmc.timeoutSeconds * 1000 }));
}

export function powerLookup(ctx: HttpContext): PowerLookup {
  return (name) => {
    const spec = ctx.inventory()?.nodes.find((n) => n.name === name);
    return spec ? powerMonitor(ctx).view(spec) : null;
  };
}

/** What the operator should do about a failed node. */
export function failedAdvice(node: Pick<NodeRecord, 'failedStep' | 'stateReason' | 'markedForInstall'>): string {
  const step = node.failedStep ?? 'an unknown step';
  const todo = node.markedForInstall
    ? 'It is still marked for install: fix the cause (see its console and events), then power-cycle it to try again.'
    : 'Check its console and events; to start over, reimage it.';
  return `Failed while ${step}: ${node.stateReason || 'no reason recorded'}. ${todo}`;
}

export function nodeView(store: Store, n: NodeRecord, power: PowerLookup = () => null): NodeView {
  const lease = store.db.prepare('SELECT ip, hostname FROM leases WHERE mac=?').get(n.mac) as { ip: string; hostname: string | null } | undefined;
  const last = store.events({ node: n.name, limit: 1 })[0];
  return {
    name: n.name, mac: n.mac, role: n.role, ip: n.ip ?? lease?.ip ?? null, uuid: n.uuid, hostname: lease?.hostname ?? null,
    state: n.state, stateMeaning: STATE_MEANING[n.state], stateReason: n.stateReason, stateSince: n.stateSince,
    failedStep: n.failedStep, failedText: n.state === 'failed' ? failedAdvice(n) : null,
    markedForInstall: n.markedForInstall, lastSeen: n.lastSeen,
    lastEvent: last ? { at: last.at, kind: last.kind, message: last.message } : null,
    power: power(n.name),
  };
}

export function nodesView(store: Store, power?: PowerLookup): NodeView[] {
  return store.listNodes().map((n) => nodeView(store, n, power));
}

export function nodeDetailView(ctx: HttpContext, name: string): { node: NodeView; events: EventRecord[]; console: { at: number; msg: string }[] } | undefined {
  const n = ctx.store.getNode(name);
  if (!n) return undefined;
  return {
    node: nodeView(ctx.store, n, powerLookup(ctx)),
    events: ctx.store.events({ node: name, limit: 100 }).reverse(),
    console: (ctx.console?.lines(name) ?? []).map((l) => ({ at: l.at, msg: l.msg })),
  };
}

export function inventoryView(ctx: HttpContext) {
  const s = ctx.inventoryStatus();
  return { ok: s.ok, file: s.file, errors: s.errors, loadedAt: s.loadedAt, checkedAt: s.checkedAt, nodes: ctx.inventory()?.nodes.length ?? 0 };
}

export function discoveredListView(store: Store): { machines: DiscoveredView[]; snippet: string } {
  const machines = discoveredView(store);
  return { machines, snippet: machines.length ? inventorySnippet(machines) : '' };
}

export function clusterView(ctx: HttpContext) {
  const bootstrap = bootstrapState(ctx.store);
  const file = (name: string) => existsSync(join(ctx.settings.dataDir, name));
  return {
    name: ctx.inventory()?.cluster.name ?? null,
    bootstrap, bootstrapped: bootstrap === 'bootstrapped', etcdMembers: etcdMembers(ctx.store),
    downloads: { kubeconfig: file('kubeconfig'), talosconfig: file('talosconfig') },
    // What the Talos API service is doing, not whether the file exists: push, bootstrap and reset hang on it.
    talosService: ctx.talosService?.() ?? recordedTalosServiceState(ctx.store) ?? null,
  };
}

export function assetsView(ctx: HttpContext) {
  const inv = ctx.inventory();
  if (!inv) return { schematic: null, talosVersion: null, files: [] as { arch: string; file: string; present: boolean; bytes: number | null; fetch: string }[] };
  const schematic = schematicId(inv.cluster.schematic);
  const version = inv.cluster.talosVersion;
  // Only the arches the inventory's nodes have: no arm64 warning for an all-amd64 rack.
  const files = archesIn(inv.nodes).flatMap((arch) =>
    [`kernel-${arch}`, `initramfs-${arch}.xz`].map((file) => {
      const path = join(ctx.settings.assetsDir, schematic, version, file);
      const st = existsSync(path) ? statSync(path) : undefined;
      return { arch, file, present: !!st?.isFile(), bytes: st?.isFile() ? st.size : null, fetch: `rackboot assets fetch --arch ${arch}` };
    }),
  );
  return { schematic, talosVersion: version, files };
}

export function stateCounts(store: Store): Record<NodeState, number> {
  const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const n of store.listNodes()) counts[n.state]++;
  return counts;
}

export function sinceText(ms: number | null, now = Date.now()): string {
  return ms === null ? 'never' : `${formatDuration(Math.max(0, now - ms))} ago`;
}
