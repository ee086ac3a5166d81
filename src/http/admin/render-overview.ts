// The rack overview's fragments: counts per state, the filter form, one
// page of node rows with their stage progress, and the pager. Rendered on
// the server for the first load and for every live update.
import { NODE_STATES } from '../../lifecycle/states.js';
import { html, type Safe } from './html.js';
import { nodeQueryString, type NodeListing, type NodeQuery } from './overview.js';
import { actionButton, ago, nodeHref, powerCell } from './render.js';
import type { NodeView } from './views.js';
import { stageBar } from './render-node.js';

export function nodeRows(nodes: NodeView[], now = Date.now()): Safe {
  if (nodes.length === 0) return html`<tr><td colspan="7" class="muted">No nodes match.</td></tr>`;
  return html`${nodes.map(
    (n) => html`<tr data-node="${n.name}" data-state="${n.state}">
  <td data-label="Name" class="nowrap"><a href="${nodeHref(n.name)}">${n.name}</a> <span class="muted small">${n.role}</span>${n.hostname ? html`<div class="muted small">hostname ${n.hostname}</div>` : ''}</td>
  <td data-label="State"><span class="state state-${n.state}" title="${n.stateMeaning}">${n.state}</span> <span class="muted small nowrap">${ago(n.stateSince, now)}</span>${n.failedText ? html`<div class="failed-text clamp" title="${n.failedText}">${n.failedText}</div>` : ''}</td>
  <td data-label="Progress" class="progress">${stageBar(n)}</td>
  <td data-label="Address" class="nowrap">${n.ip ?? '-'}<div><code class="small">${n.mac}</code></div></td>
  <td data-label="Power" class="power-cell">${powerCell(n.power, now)}</td>
  <td data-label="Last event" class="last-event"><div class="clamp small" title="${n.lastEvent?.message ?? ''}">${n.lastEvent?.message ?? '-'}</div>${n.lastEvent ? html`<span class="muted small">${ago(n.lastEvent.at, now)}</span>` : ''}</td>
  <td data-label="">${actionButton(n)}</td>
</tr>`,
  )}`;
}

export function stateCountsSection(p: NodeListing): Safe {
  const link = (state: NodeQuery['state'], label: string, count: number) =>
    html`<a class="count${p.query.state === state ? ' active' : ''}${state ? ` state-${state}` : ''}" data-count="${state ?? 'all'}" href="/ui${nodeQueryString({ ...p.query, state, page: 1 })}#nodes"><strong>${count}</strong> ${label}</a>`;
  return html`${link(undefined, 'all', p.inventoryTotal)}${NODE_STATES.filter((s) => p.counts[s] > 0 || p.query.state === s).map((s) => link(s, s, p.counts[s]))}`;
}

/** A plain GET form: filtering works without the script and leaves a URL to share. */
export function filterForm(q: NodeQuery): Safe {
  return html`<form id="filter" method="get" action="/ui#nodes" role="search">
<label>State <select name="state"><option value="">any</option>${NODE_STATES.map((s) => html`<option value="${s}"${q.state === s ? html` selected` : ''}>${s}</option>`)}</select></label>
<label>Search <input type="search" name="q" value="${q.q ?? ''}" placeholder="name, MAC, IP or hostname" maxlength="200"></label>
${q.pageSize !== 50 ? html`<input type="hidden" name="pageSize" value="${q.pageSize}">` : ''}
<button type="submit" class="secondary">Show</button>${q.state || q.q ? html` <a href="/ui#nodes">clear</a>` : ''}</form>`;
}

export function pager(p: NodeListing): Safe {
  const { page, pageSize } = p.query;
  const first = p.total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(p.total, page * pageSize);
  const to = (n: number, label: string, rel: string) =>
    n >= 1 && n <= p.pages && n !== page ? html`<a rel="${rel}" href="/ui${nodeQueryString(p.query, { page: n })}#nodes">${label}</a>` : html`<span class="muted">${label}</span>`;
  return html`<span data-total="${p.total}">${first}–${last} of ${p.total}${p.total !== p.inventoryTotal ? ` (of ${p.inventoryTotal} in the inventory)` : ''}</span>
${to(1, '« first', 'first')} ${to(page - 1, '‹ previous', 'prev')} <span>page ${page} of ${p.pages}</span> ${to(page + 1, 'next ›', 'next')} ${to(p.pages, 'last »', 'last')}`;
}
