// The node page's day-2 panel: what the node runs as rackboot recorded it
// (src/day2/applied.ts), a rejection's reason, and the buttons that ask for
// the plan (Talos's dry-run diff) and apply the inventory's config.
import type { AppliedConfig } from '../../day2/applied.js';
import { parseInstallerImage } from '../../day2/applied.js';
import { html, type Safe } from './html.js';

const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z');

export function day2Panel(name: string, a: AppliedConfig | undefined): Safe {
  const installer = a?.installerImage ? parseInstallerImage(a.installerImage) : undefined;
  const row = (k: string, v: string | null | undefined) => html`<tr><th>${k}</th><td>${v ?? 'unknown'}</td></tr>`;
  return html`<table class="kv">
${row('Config applied', a?.sha256 ? `${a.sha256.slice(0, 12)} (${a.via ?? '?'}, ${when(a.appliedAt)})` : null)}
${row('Mode Talos chose', a?.mode ? `${a.mode}${a.modeDetails ? `: ${a.modeDetails}` : ''}` : null)}
${row('Talos version', a?.talosVersion ?? installer?.version)}
${row('Schematic', installer?.schematic)}
${row('Kubernetes version', a?.kubernetesVersion)}
</table>
${a?.rejected ? html`<p class="error-box" data-rejected="${a.rejected.sha256}"><strong>Talos rejected config ${a.rejected.sha256.slice(0, 12)}</strong> (${when(a.rejected.at)}); not sent again until the inventory changes: ${a.rejected.reason}</p>` : ''}
<p><button type="button" class="secondary" data-action="plan" data-node="${name}">Show plan</button>
<button type="button" class="danger" data-action="apply-config" data-node="${name}">Apply inventory config</button></p>
<pre id="day2-plan" class="plan" hidden></pre>`;
}
