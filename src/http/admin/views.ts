// The data the page and the JSON API share: one function per view, so the
// page never shows something the API cannot give a script, and vice versa.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { schematicId } from '../../factory/schematic.js';
import { archesIn } from '../../factory/assets.js';
import { discoveredView, inventorySnippet, type DiscoveredView } from '../../lifecycle/discovery.js';
import { bootstrapState, etcdMembers } from '../../lifecycle/cluster-state.js';
import { STATE_MEANING, type NodeState } from '../../lifecycle/states.js';
import { formatDuration } from '../../lifecycle/sweeper.js';
import { everInstalled, stageTimeline, type StageTiming, type StateChange } from '../../lifecycle/stages.js';
import type { HttpContext } from '../context.js';
import { recordedTalosServiceState } from '../../talos/service.js';
import { hostnameRecordOf, nodeHostname, type HostnameSeenIn, type NodeHostnameRecord } from '../../talos/node-hostname.js';
import type { EventRecord, NodeRecord, Store } from '../../store/store.js';
import { nodeMacs, type PageNode } from '../../store/readers.js';
import { PowerMonitor, type PowerView } from '../../bmc/power-monitor.js';
import { consoleEmptyReason, nodeConfigView, type NodeConfigView } from './node-detail.js';
import { nodeHardware, type HardwareRecord } from '../../store/hardware.js';
import { imagePresence, inventoryImages } from '../../registry/cluster-images.js';

export interface NodeView {
  name: string; mac: string; role: string; ip: string | null; uuid: string | null;
  /** Every NIC of a multi-NIC node (inventory macs); just `mac` otherwise. */
  macs: string[];
  /** Which of them holds the node's most recent lease: the NIC it booted from. */
  bootMac: string | null;
  /** The node's hostname: as its Talos API reports it (fully qualified when it has a domain), else as its DHCP client sent it (network input either way). */
  hostname: string | null;
  /** Where `hostname` came from: the node's HostnameStatus (read at first contact or once installed), or DHCP option 12. */
  hostnameFrom: { from: 'talos-api'; seenIn: HostnameSeenIn; readAt: number } | { from: 'dhcp' } | null;
  /** What its DHCP client sent in option 12, whatever the Talos API says. */
  dhcpHostname: string | null;
  state: NodeState; stateMeaning: string; stateReason: string; stateSince: number;
  failedStep: string | null;
  /** For a failed node: what went wrong and what to do, in plain words. */
  failedText: string | null;
  markedForInstall: boolean; lastSeen: number | null;
  lastEvent: { at: number; kind: string; message: string } | null;
  /** Power state and BMC reachability as last read; null when the inventory gives the node no BMC. */
  power: PowerView | null;
  /** The install stages of its current run, with the time each took. */
  stages: StageTiming[];
  /** Talos was installed on it at some point: only then is there something for Reimage to wipe. */
  installedOnce: boolean;
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

/** Every state change of the named nodes, oldest first, in one query. */
export function stateHistories(store: Store, names: readonly string[]): Map<string, StateChange[]> {
  const out = new Map<string, StateChange[]>();
  for (const r of store.readers.stateEvents(names)) {
    const d = r.data_json ? (JSON.parse(r.data_json) as { from?: NodeState; to?: NodeState }) : {};
    if (!d.from || !d.to) continue;
    let list = out.get(r.node);
    if (!list) out.set(r.node, (list = []));
    list.push({ at: r.at, from: d.from, to: d.to });
  }
  return out;
}

export function nodeView(
  store: Store, n: NodeRecord, power: PowerLookup = () => null,
  opts: { history?: StateChange[]; now?: number; page?: Pick<PageNode, 'lease' | 'last' | 'hostname'> } = {},
): NodeView {
  const macs = nodeMacs(n);
  const lease = opts.page ? opts.page.lease : store.readers.latestLease(macs);
  const last = opts.page ? opts.page.last : store.events({ node: n.name, limit: 1 })[0];
  const history = opts.history ?? stateHistories(store, [n.name]).get(n.name) ?? [];
  return {
    name: n.name, mac: n.mac, macs, bootMac: lease?.mac ?? null, role: n.role, ip: n.ip ?? lease?.ip ?? null, uuid: n.uuid,
    ...hostnameFields(opts.page ? hostnameRecordOf(opts.page.hostname) : nodeHostname(store, n.name), lease?.hostname ?? null),
    state: n.state, stateMeaning: STATE_MEANING[n.state], stateReason: n.stateReason, stateSince: n.stateSince,
    failedStep: n.failedStep, failedText: n.state === 'failed' ? failedAdvice(n) : null,
    markedForInstall: n.markedForInstall, lastSeen: n.lastSeen,
    lastEvent: last ? { at: last.at, kind: last.kind, message: last.message } : null,
    power: power(n.name),
    stages: stageTimeline(n, history, opts.now ?? Date.now()),
    installedOnce: everInstalled(n.state, history),
  };
}

/** The node's own report wins over DHCP option 12: the firmware's DHCP client may send another name, or none. */
function hostnameFields(reported: NodeHostnameRecord | undefined, dhcp: string | null): Pick<NodeView, 'hostname' | 'hostnameFrom' | 'dhcpHostname'> {
  if (reported) {
    const fqdn = reported.domainname ? `${reported.hostname}.${reported.domainname}` : reported.hostname;
    return { hostname: fqdn, hostnameFrom: { from: 'talos-api', seenIn: reported.seenIn, readAt: reported.readAt }, dhcpHostname: dhcp };
  }
  return { hostname: dhcp, hostnameFrom: dhcp === null ? null : { from: 'dhcp' }, dhcpHostname: dhcp };
}

export interface NodeDetail {
  node: NodeView;
  events: EventRecord[];
  /** source: 'sol' for a line captured over Serial-over-LAN (src/bmc/sol-capture.ts); absent for Talos's kernel log. */
  console: { at: number; msg: string; source?: 'sol' }[];
  /** Why the console is empty, when it is. */
  consoleEmpty: string | null;
  config: NodeConfigView;
  hardware: HardwareRecord | null;
}

/** What a node page's live updates re-render: its summary and events (not the config, not the console). */
export function nodeLiveView(ctx: HttpContext, name: string): Pick<NodeDetail, 'node' | 'events'> | undefined {
  const n = ctx.store.getNode(name);
  if (!n) return undefined;
  return { node: nodeView(ctx.store, n, powerLookup(ctx)), events: ctx.store.events({ node: name, limit: 100 }).reverse() };
}

export function nodeDetailView(ctx: HttpContext, name: string): NodeDetail | undefined {
  const n = ctx.store.getNode(name);
  const live = nodeLiveView(ctx, name);
  if (!n || !live) return undefined;
  const console = (ctx.console?.lines(name) ?? []).map((l) => ({ at: l.at, msg: l.msg, ...consoleSource(l) }));
  const capture = ctx.console && ctx.settings.console.enabled
    ? { on: true as const, port: ctx.settings.console.port, startedAt: ctx.console.startedAt, lines: console.length }
    : { on: false as const };
  return {
    ...live,
    console, consoleEmpty: consoleEmptyReason(n, capture) ?? null,
    config: nodeConfigView(ctx, n),
    hardware: nodeHardware(ctx.store, name) ?? null,
  };
}

export function inventoryView(ctx: HttpContext) {
  const s = ctx.inventoryStatus();
  return { ok: s.ok, file: s.file, errors: s.errors, loadedAt: s.loadedAt, checkedAt: s.checkedAt, nodes: ctx.inventory()?.nodes.length ?? 0 };
}

/** The unknown machines, most recently seen first; `limit` keeps the page small (the store keeps up to 1000). */
export function discoveredListView(store: Store, limit?: number): { machines: DiscoveredView[]; snippet: string; total: number } {
  const all = discoveredView(store);
  const machines = limit === undefined ? all : all.slice(0, limit);
  return { machines, snippet: machines.length ? inventorySnippet(machines) : '', total: all.length };
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
  if (!inv) return { schematic: null, talosVersion: null, files: [] as { arch: string; file: string; present: boolean; bytes: number | null; fetch: string }[], images: [] as { ref: string; present: boolean }[] };
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
  // branch registry (issue 20): the images the /v2/ mirror should hold for this inventory.
  let images: { ref: string; present: boolean }[] = [];
  try {
    images = imagePresence(ctx.settings.dataDir, inventoryImages(ctx.settings.factory.url, inv.cluster));
  } catch (err) {
    ctx.log.debug({ err }, 'no image list for this inventory');
  }
  return { schematic, talosVersion: version, files, images };
}

/** Counted by the store: reading every node (and parsing its spec) took 40-90 ms per scrape with 5,000 nodes. */
export function stateCounts(store: Store): Record<NodeState, number> {
  return store.readers.nodeStateCounts();
}

export function sinceText(ms: number | null, now = Date.now()): string {
  return ms === null ? 'never' : `${formatDuration(Math.max(0, now - ms))} ago`;
}

/** Marks a console line captured over Serial-over-LAN, so the page can tell firmware screens from Talos's kernel log. */
export function consoleSource(l: { fields: Record<string, unknown> }): { source?: 'sol' } {
  return l.fields.source === 'sol' ? { source: 'sol' } : {};
}
