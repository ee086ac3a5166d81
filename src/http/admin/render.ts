// The page's fragments. Each is rendered on the server, for the first page
// load and again for every live update (sent over SSE and swapped in by id),
// so there is one renderer and it always escapes.
import type { EventRecord } from '../../store/store.js';
import type { DiscoveredView } from '../../lifecycle/discovery.js';
import { html, type Safe } from './html.js';
import { sinceText, type assetsView, type clusterView, type inventoryView, type NodeView } from './views.js';
import type { PowerView } from '../../bmc/power-monitor.js';
import { FAULT_LABEL, type BmcFault } from '../../bmc/types.js';
import { stageBar } from './render-node.js';
import { commissionCell } from './render-commission.js';

const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z');
export const ago = (ms: number | null, now: number) => html`<span data-since="${ms ?? ''}" title="${when(ms)}">${sinceText(ms, now)}</span>`;
export const nodeHref = (name: string) => `/ui/nodes/${encodeURIComponent(name)}`;

export function actionButton(n: NodeView): Safe {
  if (n.state === 'reimage-pending') return html`<button type="button" class="secondary" data-action="cancel" data-node="${n.name}">Cancel reimage</button>`;
  if (n.state === 'wiping') return html``;
  // Nothing to wipe on a node that never installed: a stuck first install is retried by power-cycling it.
  if (!n.installedOnce) return html``;
  // Reimaging the last etcd member is refused unless this is ticked (src/lifecycle/etcd-loss.ts).
  const destroyEtcd = n.role === 'controlplane'
    ? html` <label class="small" title="Needed when this is the last etcd member: the cluster's state is lost and it is bootstrapped again"><input type="checkbox" data-destroy-etcd="${n.name}"> destroy etcd</label>`
    : '';
  return html`<button type="button" class="danger" data-action="reimage" data-node="${n.name}">Reimage</button>${destroyEtcd}`;
}

/** Who was at fault when the BMC could not be read, in a word the operator can act on. */
const FAULT_WORD: Record<BmcFault, string> = {
  network: 'BMC unreachable (network)', credentials: 'BMC refused the credentials', certificate: 'BMC certificate not trusted',
  bmc: 'BMC error', config: 'rackboot configuration',
};

/** The message without the fault's long label in front, which the page says in its own words. */
const withoutLabel = (message: string, fault: BmcFault) => (message.startsWith(`${FAULT_LABEL[fault]}: `) ? message.slice(FAULT_LABEL[fault].length + 2) : message);

/** Power state, when it was read and whether the BMC answered; BMC-provided text is escaped like all else. */
export function powerCell(p: PowerView | null, now = Date.now()): Safe {
  if (!p) return html`<span class="muted" title="no bmc in the inventory">no BMC</span>`;
  if (p.readAt === null) return html`<span class="power power-unknown" title="${p.address}">not read yet</span>`;
  if (!p.fault) return html`<span class="power power-${p.state}" title="${p.address}">${p.state}</span> <span class="muted small">read ${ago(p.readAt, now)}</span>`;
  return html`<span class="power power-unknown" title="${p.address}">unknown</span> <span class="muted small">read ${ago(p.readAt, now)}</span>
<div class="bmc-fault" data-fault="${p.fault}"><strong>${FAULT_WORD[p.fault]}</strong>: ${withoutLabel(p.error ?? '', p.fault)}</div>${p.lastKnown ? html`<div class="muted small">last known ${p.lastKnown.state}, ${ago(p.lastKnown.at, now)}</div>` : ''}`;
}

/** On, off, cycle and PXE-once for a node with a BMC (the page's script asks to confirm and sends the CSRF token). */
export function powerButtons(n: NodeView): Safe {
  if (!n.power) return html``;
  const b = (action: string, label: string, cls: string) => html`<button type="button" class="${cls}" data-action="power" data-power="${action}" data-node="${n.name}">${label}</button>`;
  return html`<p class="power-actions">${b('on', 'Power on', 'secondary')} ${b('off', 'Power off', 'danger')} ${b('cycle', 'Power cycle', 'danger')} ${b('pxe-once', 'Next boot: PXE', 'secondary')}
<label class="small" title="Set the next boot to PXE (once) before powering on or cycling"><input type="checkbox" data-power-pxe="${n.name}"> PXE first</label></p>`;
}

export function inventorySection(inv: ReturnType<typeof inventoryView>): Safe {
  if (inv.ok) return html`<p class="ok">Inventory <code>${inv.file}</code> loaded: ${inv.nodes} nodes. Last checked ${when(inv.checkedAt)}.</p>`;
  return html`<div class="error-box" role="alert"><strong>The last edit of <code>${inv.file}</code> was rejected</strong>${inv.loadedAt ? ' (the last good inventory stays live)' : ''}:
<ul>${inv.errors.map((e) => html`<li><strong>Line ${e.line}, column ${e.col}:</strong> ${e.message} <code class="muted small">${e.file}:${e.line}:${e.col}</code></li>`)}</ul></div>`;
}

export function clusterSection(c: ReturnType<typeof clusterView>): Safe {
  const dl = (name: 'kubeconfig' | 'talosconfig') =>
    c.downloads[name] ? html`<a class="button" href="/api/cluster/${name}" download>${name}</a>` : html`<span class="muted">${name} not written yet</span>`;
  return html`<dl class="facts">
  <dt>Cluster</dt><dd>${c.name ?? '-'}</dd>
  <dt>Bootstrap</dt><dd><span class="${c.bootstrapped ? 'ok' : 'muted'}">${c.bootstrap}</span></dd>
  <dt>etcd members</dt><dd>${c.etcdMembers.length ? c.etcdMembers.join(', ') : 'none known'}</dd>
  <dt>Talos API service</dt><dd><span class="${c.talosService?.state === 'running' ? 'ok' : 'warn'}">${c.talosService?.state ?? 'unknown'}</span> ${c.talosService?.detail ?? ''}</dd>
  <dt>Downloads</dt><dd>${dl('kubeconfig')} ${dl('talosconfig')}</dd>
</dl>`;
}

export function assetsSection(a: ReturnType<typeof assetsView>): Safe {
  if (!a.schematic) return html`<p class="muted">No valid inventory: the boot assets it needs are unknown.</p>`;
  return html`<p>Talos ${a.talosVersion}, schematic <code class="wrap">${a.schematic}</code></p>
<table class="compact"><thead><tr><th>Arch</th><th>File</th><th>Cached</th></tr></thead><tbody>
${a.files.map((f) => html`<tr><td>${f.arch}</td><td><code>${f.file}</code></td><td class="${f.present ? 'ok' : 'warn'}">${f.present ? `${((f.bytes ?? 0) / 1048576).toFixed(1)} MiB` : `missing: run ${f.fetch}`}</td></tr>`)}
</tbody></table>
<table class="compact" id="images"><thead><tr><th>Image (registry mirror)</th><th>Cached</th></tr></thead><tbody>
${a.images.map((i) => html`<tr><td><code class="wrap">${i.ref}</code></td><td class="${i.present ? 'ok' : 'muted'}">${i.present ? 'present' : 'missing'}</td></tr>`)}
</tbody></table>`;
}

export function discoveredSection(list: DiscoveredView[], snippet: string, total = list.length, now = Date.now()): Safe {
  if (list.length === 0) return html`<p class="muted">No unknown machines have asked to boot.</p>`;
  const more = total > list.length
    ? html`<p class="muted" data-discovered-total="${total}">The ${list.length} most recently seen of ${total}; all of them: <code>rackboot discovered</code> or <code>GET /api/discovered</code>.</p>`
    : '';
  const flag = (d: DiscoveredView) => (d.uuidFlag ? html` <span class="badge warn">${d.uuidFlag === 'all-zero' ? 'all-zero UUID' : 'duplicate UUID'}</span>` : '');
  return html`<div class="table-wrap"><table class="cards"><thead><tr><th>MAC</th><th>UUID</th><th>Arch</th><th>Vendor class</th><th>Relay</th><th>First seen</th><th>Last seen</th><th>Hardware</th></tr></thead><tbody>
${list.map((d) => html`<tr><td data-label="MAC"><code>${d.mac}</code></td><td data-label="UUID"><code class="wrap">${d.uuid ?? '-'}</code>${flag(d)}</td><td data-label="Arch">${d.archName ?? '-'}</td><td data-label="Vendor class">${d.vendorClass ?? '-'}</td><td data-label="Relay">${d.relay ?? '-'}</td><td data-label="First seen">${ago(d.firstSeen, now)}</td><td data-label="Last seen">${ago(d.lastSeen, now)}</td><td data-label="Hardware">${commissionCell(d)}</td></tr>`)}
</tbody></table></div>${more}
<p>Paste under <code>nodes:</code> in the inventory, then choose names and roles (rackboot never edits the file itself):</p>
<pre class="snippet" id="snippet">${snippet}</pre>`;
}

/** The hostname and where it came from; the node's own report names DHCP's only when the two differ. */
function hostnameCell(n: NodeView, now: number): Safe {
  if (n.hostname === null || n.hostnameFrom === null) return html`<span class="muted">not reported yet</span>`;
  const config = n.hostname === n.name ? '' : `; its config names it ${n.name}`;
  if (n.hostnameFrom.from === 'dhcp') return html`${n.hostname} <span class="muted small">as its DHCP client reports it${config}</span>`;
  const when = n.hostnameFrom.seenIn === 'maintenance' ? 'in maintenance mode' : 'once installed';
  const dhcp = n.dhcpHostname !== null && n.dhcpHostname !== n.hostname ? `; its DHCP client sent ${n.dhcpHostname}` : '';
  return html`<span data-hostname-from="talos-api">${n.hostname}</span> <span class="muted small">as its Talos API reports it (HostnameStatus, read ${when}, ${ago(n.hostnameFrom.readAt, now)})${config}${dhcp}</span>`;
}

export function nodeSummary(n: NodeView, now = Date.now()): Safe {
  return html`<dl class="facts">
  <dt>State</dt><dd><span class="state state-${n.state}">${n.state}</span> <span class="muted">${n.stateMeaning}</span></dd>
  ${n.failedText ? html`<dt>Failed</dt><dd class="failed-text">${n.failedText}</dd>` : ''}
  <dt>Reason</dt><dd>${n.stateReason || '-'}</dd>
  <dt>In state</dt><dd>${ago(n.stateSince, now)}</dd>
  <dt>Role</dt><dd>${n.role}</dd>
  <dt>IP</dt><dd>${n.ip ?? '-'}</dd>
  <dt>MAC</dt><dd><code>${n.mac}</code>${n.macs.length > 1 ? html` <span class="muted small">(NICs: ${n.macs.map((m, i) => html`${i ? ', ' : ''}<code>${m}</code>`)}; booted via <code data-boot-mac>${n.bootMac ?? 'not yet'}</code>)</span>` : ''}</dd>
  <dt>Progress</dt><dd class="progress">${stageBar(n)}</dd>
  <dt>Hostname</dt><dd>${hostnameCell(n, now)}</dd>
  <dt>UUID</dt><dd><code class="wrap">${n.uuid ?? '-'}</code></dd>
  <dt>Marked for install</dt><dd>${n.markedForInstall ? 'yes: its next PXE boot installs' : 'no: it boots from disk'}</dd>
  <dt>Last seen</dt><dd>${ago(n.lastSeen, now)}</dd>
  <dt>Power</dt><dd class="power-cell">${powerCell(n.power, now)}</dd>
  ${n.power ? html`<dt>BMC</dt><dd><code class="wrap">${n.power.address}</code> ${n.power.reachable === true ? html`<span class="ok">answering</span>` : n.power.reachable === false ? html`<span class="bad">not answering</span>` : ''}</dd>` : ''}
</dl>
${powerButtons(n)}
<p>${actionButton(n)}</p>`;
}

/** Who caused an event, where its writer recorded it (reimage: `by`, power: `actor`). */
function actorIn(data: unknown): string | undefined {
  const d = data as { by?: unknown; actor?: unknown } | null;
  const who = d?.by ?? d?.actor;
  return typeof who === 'string' ? who : undefined;
}

export function eventList(events: EventRecord[]): Safe {
  if (events.length === 0) return html`<li class="muted">No events.</li>`;
  return html`${events.map((e) => {
    const who = actorIn(e.data);
    return html`<li><time>${when(e.at)}</time> <span class="badge">${e.kind}</span> ${e.message}${who ? html` <span class="badge actor" data-actor="${who}">by ${who}</span>` : ''}</li>`;
  })}`;
}

export function consoleLines(lines: { at: number; msg: string; source?: 'sol' }[]): Safe {
  return html`${lines.map((l) => (l.source === 'sol' ? html`<li class="sol"><span class="src" title="Serial-over-LAN through the BMC">sol</span> ${l.msg}</li>` : html`<li>${l.msg}</li>`))}`;
}
