// A node's stage progress bar (the overview's rows and its own page), and
// its page's machine-config card: what rackboot would serve the node
// now, secrets redacted, and (once recorded) how it differs from what the
// node applied.
import { html, type Safe } from './html.js';
import type { NodeConfigView } from './node-detail.js';
import type { NodeView } from './views.js';
import { formatDuration } from '../../lifecycle/sweeper.js';

export function configSection(c: NodeConfigView): Safe {
  const body = c.redacted === null
    ? html`<p class="muted">${c.why}</p>`
    : html`<details open><summary>As rackboot renders it now, secrets redacted (${c.redacted.split('\n').length} lines)</summary><pre class="config" id="node-config">${c.redacted}</pre></details>`;
  const diff = c.appliedDiff === null ? html`<p class="muted" id="node-config-diff">No applied config is recorded for this node yet, so there is nothing to compare with.</p>`
    : c.appliedDiff === '' ? html`<p id="node-config-diff">The same as the config the node last applied.</p>`
    : html`<h3>Since the node applied its config (<code>rackboot plan</code> asks the node itself)</h3><pre class="config" id="node-config-diff">${c.appliedDiff}</pre>`;
  return html`<section class="card" id="config"><h2>Machine config</h2>${body}${diff}</section>`;
}

const STAGE_WORD = { done: 'took', current: 'so far', failed: 'failed after', skipped: 'skipped', todo: 'not reached' } as const;

/** One segment per stage; its width is fixed, its colour says done/current/failed, its text how long. */
export function stageBar(n: Pick<NodeView, 'stages'>): Safe {
  return html`<ol class="stages" aria-label="install progress">${n.stages.map((s) => {
    const took = s.ms === null ? '' : formatDuration(s.ms);
    return html`<li class="st st-${s.status}" data-stage="${s.stage}" title="${s.stage}: ${STAGE_WORD[s.status]}${took ? ` ${took}` : ''}"><span class="st-name">${s.stage}</span><span class="st-time">${took || '·'}</span></li>`;
  })}</ol>`;
}

