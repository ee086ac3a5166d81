// The discovered list's Hardware cell (branch commission): what commissioning
// read from an unknown machine, or where it got to.
import type { DiscoveredView } from '../../lifecycle/discovery.js';
import { html, type Safe } from './html.js';

export function commissionCell(d: DiscoveredView): Safe | string {
  const c = d.commission;
  if (!c) return '-';
  if (c.state === 'booting') {
    return html`<span class="badge">commissioning</span>${c.lastError ? html` <span class="muted small">not read yet: ${c.lastError}</span>` : ''}`;
  }
  return html`<span data-commission-summary>${c.summary ?? ''}</span><br><span class="muted small">install disk: ${c.installDisk ?? 'none found'}; cabled NIC <code>${c.cabledMac ?? d.mac}</code>; in maintenance mode until adopted</span>`;
}
