// A node's hardware panel: the facts last read from Talos maintenance mode
// (src/talos/hardware.ts). Every value came from the machine, so all of it is
// escaped like any other network input.
import type { HardwareRecord } from '../../store/hardware.js';
import { prettySize } from '../../talos/hardware.js';
import { html, type Safe } from './html.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
const dash = (s: string | number) => (s === '' || s === 0 ? '-' : s);

export function hardwarePanel(hw: HardwareRecord | null): Safe {
  if (!hw) return html`<p class="muted">Not read yet: rackboot reads disks, NICs and system facts the next time this node is in Talos maintenance mode.</p>`;
  const f = hw.facts;
  const sys = f.system;
  const cores = f.processors.reduce((n, p) => n + p.coreCount, 0);
  const threads = f.processors.reduce((n, p) => n + p.threadCount, 0);
  const mem = f.memory.reduce((n, m) => n + m.sizeMiB, 0);
  return html`<p class="muted small">Read <span title="${iso(hw.readAt)}">${iso(hw.readAt)}</span> from ${hw.endpoint} (Talos maintenance mode).</p>
<dl class="facts">
<dt>System</dt><dd>${sys ? [sys.manufacturer, sys.productName, sys.version].filter(Boolean).join(' · ') || '-' : '-'}</dd>
<dt>Serial</dt><dd><code>${dash(sys?.serialNumber ?? '')}</code></dd>
<dt>UUID</dt><dd><code>${dash(sys?.uuid ?? '')}</code></dd>
<dt>CPU</dt><dd>${f.processors.length} socket(s), ${cores} cores, ${threads} threads${f.processors[0] ? html` · ${f.processors[0].productName}` : ''}</dd>
<dt>Memory</dt><dd>${mem} MiB in ${f.memory.length} module(s)</dd>
${hw.installDisk ? html`<dt>Install disk</dt><dd><code>${hw.installDisk.path}</code> <span class="muted small">chosen by the inventory's selector, ${iso(hw.installDisk.at)}</span></dd>` : ''}
</dl>
<h3>Disks</h3>
<div class="table-wrap"><table class="hw-disks"><thead><tr><th>Device</th><th>Size</th><th>Model</th><th>Serial</th><th>WWID</th><th>Transport</th><th>Rotational</th></tr></thead><tbody>
${f.disks.map((d) => html`<tr data-disk="${d.devPath}"><td><code>${d.devPath}</code>${d.readonly ? ' (read-only)' : ''}${d.cdrom ? ' (CD-ROM)' : ''}</td><td>${prettySize(d.size)}</td><td>${dash(d.model)}</td><td><code>${dash(d.serial)}</code></td><td class="wrap"><code>${dash(d.wwid)}</code></td><td>${dash(d.transport)}</td><td>${d.rotational ? 'yes' : 'no'}</td></tr>`)}
</tbody></table></div>
<h3>Network links</h3>
<div class="table-wrap"><table class="hw-links"><thead><tr><th>Link</th><th>MAC</th><th>Permanent MAC</th><th>Driver</th><th>Speed</th><th>State</th></tr></thead><tbody>
${f.links.map((l) => html`<tr data-link="${l.id}"><td>${l.id}</td><td><code>${l.hardwareAddr}</code></td><td><code>${dash(l.permanentAddr)}</code></td><td>${dash(l.driver)}</td><td>${l.speedMbit ? `${l.speedMbit} Mbit/s` : '-'}</td><td>${l.linkState ? 'link up' : 'no link'} (${dash(l.operationalState)})</td></tr>`)}
</tbody></table></div>
${f.pci.length ? html`<details><summary>${f.pci.length} PCI device(s)</summary><ul class="small">${f.pci.map((p) => html`<li><code>${p.id}</code> ${p.vendor} ${p.product} (${p.vendorId}:${p.productId})${p.driver ? ` · ${p.driver}` : ''}</li>`)}</ul></details>` : ''}`;
}
