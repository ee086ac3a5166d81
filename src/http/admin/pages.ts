// Whole pages: the layout, the overview, a node's detail and the login form.
import { html, Safe } from './html.js';
import { assetsSection, clusterSection, consoleLines, discoveredSection, eventList, inventorySection, nodeSummary } from './render.js';
import { filterForm, nodeRows, pager, stateCountsSection } from './render-overview.js';
import { nodeQueryString, type NodeListing } from './overview.js';
import type { assetsView, clusterView, discoveredListView, inventoryView, NodeView } from './views.js';
import type { EventRecord } from '../../store/store.js';
import type { NodeDetail } from './views.js';
import { configSection } from './render-node.js';
import { rolloutSection, type RolloutView } from './rollout.js';
import { hardwarePanel } from './render-hardware.js';

function layout(title: string, body: Safe, opts: { csrf?: string; signedIn: boolean; page: string }): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${opts.csrf ?? ''}"><title>${title} · rackboot</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/ui/static/style.css"></head>
<body data-page="${opts.page}">
<header><a class="brand" href="/ui">rackboot</a><nav><a href="/ui#nodes">Nodes</a><a href="/ui#cluster">Cluster</a><a href="/ui#discovered">Discovered</a></nav>
${opts.signedIn ? html`<button type="button" class="secondary" data-action="logout">Log out</button>` : ''}</header>
<div id="flash" role="status" aria-live="polite"></div>
<main>${body}</main>
<footer><span id="live" class="muted">connecting…</span></footer>
<script src="/ui/static/app.js" defer></script>
</body></html>`.value;
}

export interface OverviewData {
  nodes: NodeListing;
  inventory: ReturnType<typeof inventoryView>;
  cluster: ReturnType<typeof clusterView>;
  assets: ReturnType<typeof assetsView>;
  discovered: ReturnType<typeof discoveredListView>;
  rollout: RolloutView | null;
}

/** The fragments live updates replace, by element id. */
export function overviewFragments(d: OverviewData): Record<string, string> {
  return {
    counts: stateCountsSection(d.nodes).value,
    'nodes-body': nodeRows(d.nodes.nodes).value,
    pager: pager(d.nodes).value,
    inventory: inventorySection(d.inventory).value,
    'cluster-body': clusterSection(d.cluster).value,
    'assets-body': assetsSection(d.assets).value,
    'discovered-body': discoveredSection(d.discovered.machines, d.discovered.snippet, d.discovered.total).value,
    'rollout-body': rolloutSection(d.rollout).value,
  };
}

export function overviewPage(d: OverviewData, opts: { csrf?: string; signedIn: boolean }): string {
  const f = overviewFragments(d);
  const raw = (id: string) => new Safe(f[id]!);
  return layout('Nodes', html`
<section id="inventory-card" class="card"><h2>Inventory</h2><div id="inventory">${raw('inventory')}</div></section>
<section id="nodes" class="card" data-query="${nodeQueryString(d.nodes.query)}"><h2>Nodes</h2>
<nav id="counts" class="counts" aria-label="nodes per state">${raw('counts')}</nav>
${filterForm(d.nodes.query)}
<div class="table-wrap"><table id="nodes-table" class="cards"><thead><tr><th>Name</th><th>State</th><th title="booting → maintenance → configuring → installing → installed → ready, and the time each took">Progress</th><th>IP / MAC</th><th>Power</th><th>Last event</th><th></th></tr></thead>
<tbody id="nodes-body">${raw('nodes-body')}</tbody></table></div>
<nav id="pager" class="pager" aria-label="pages">${raw('pager')}</nav></section>
<div class="grid">
<section id="cluster" class="card"><h2>Cluster</h2><div id="cluster-body">${raw('cluster-body')}</div></section>
<section id="assets" class="card"><h2>Boot assets</h2><div id="assets-body">${raw('assets-body')}</div></section>
</div>
<section id="rollout" class="card"><h2>Upgrade rollout</h2><div id="rollout-body">${raw('rollout-body')}</div></section>
<section id="discovered" class="card"><h2>Discovered machines</h2><div id="discovered-body">${raw('discovered-body')}</div></section>`, { ...opts, page: 'overview' });
}

export function nodeFragments(node: NodeView, events: EventRecord[]): Record<string, string> {
  return { 'node-summary': nodeSummary(node).value, 'node-events': eventList(events).value };
}

export function nodePage(d: NodeDetail, opts: { csrf?: string; signedIn: boolean; day2?: Safe }): string {
  const f = nodeFragments(d.node, d.events);
  const raw = (id: string) => new Safe(f[id]!);
  const node = d.node;
  return layout(node.name, html`
<p><a href="/ui">← all nodes</a></p>
<section class="card" data-node="${node.name}" id="node"><h2>${node.name}</h2><div id="node-summary">${raw('node-summary')}</div></section>
<section class="card" id="hardware"><h2>Hardware</h2>${hardwarePanel(d.hardware)}</section>
${opts.day2 ? html`<section class="card" id="day2"><h2>Config and versions</h2>${opts.day2}</section>` : ''}
<div class="grid">
<section class="card"><h2>Console</h2><ol id="console" class="console">${consoleLines(d.console)}${d.consoleEmpty ? html`<li class="console-empty">${d.consoleEmpty}</li>` : ''}</ol></section>
<section class="card"><h2>Events</h2><ol id="node-events" class="events">${raw('node-events')}</ol></section>
</div>
${configSection(d.config)}`, { ...opts, page: 'node' });
}

export function loginPage(opts: { next: string; error?: string }): string {
  return layout('Log in', html`
<section class="card login"><h2>Log in</h2>
${opts.error ? html`<p class="error-box" role="alert">${opts.error}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${opts.next}">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
<p class="muted small">The token is in the settings (adminToken), or was printed once when rackboot first started.</p></section>`, { signedIn: false, page: 'login' });
}
