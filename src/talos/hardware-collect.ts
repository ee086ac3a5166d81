// Reads a maintenance-mode node's hardware facts and keeps them in the store.
// Reading is best effort: a node that will not tell (an older Talos, a
// resource type it lacks) still gets its config; the event says why the
// facts are missing.
import type { NodeRecord, Store } from '../store/store.js';
import { recordHardware } from '../store/hardware.js';
import type { TalosClient } from './client.js';
import { ClientClosedError } from './errors.js';
import { prettySize, readHardwareFacts, type HardwareFacts } from './hardware.js';

/** One line for the event log: what was found, in the words an operator scans for. */
export function factsSummary(f: HardwareFacts): string {
  const sys = f.system ? [f.system.manufacturer, f.system.productName].filter(Boolean).join(' ') + (f.system.serialNumber ? ` (serial ${f.system.serialNumber})` : '') : 'unknown system';
  const cores = f.processors.reduce((n, p) => n + p.coreCount, 0);
  const mem = f.memory.reduce((n, m) => n + m.sizeMiB, 0);
  const disks = f.disks.filter((d) => !d.cdrom).map((d) => `${d.devPath} ${prettySize(d.size)}${d.transport ? ` ${d.transport}` : ''}`).join(', ');
  return `${sys}; ${f.processors.length} CPU(s), ${cores} cores; ${mem} MiB RAM; disks: ${disks || 'none'}; NICs: ${f.links.map((l) => l.permanentAddr || l.hardwareAddr).join(', ') || 'none'}`;
}

export async function collectHardware(store: Store, node: NodeRecord, client: TalosClient, endpoint: string, now = Date.now()): Promise<HardwareFacts | undefined> {
  try {
    const facts = await readHardwareFacts(client);
    recordHardware(store, { node: node.name, mac: node.mac, endpoint, readAt: now, facts });
    store.appendEvent({ node: node.name, mac: node.mac, kind: 'talos', message: `hardware facts read: ${factsSummary(facts)}` });
    return facts;
  } catch (err) {
    if (err instanceof ClientClosedError) throw err;
    store.appendEvent({ node: node.name, mac: node.mac, kind: 'talos', message: `hardware facts not read: ${(err as Error).message}`, data: { error: (err as Error).message } });
    return undefined;
  }
}
