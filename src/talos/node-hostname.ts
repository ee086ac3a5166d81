// The hostname a node itself reports, read from Talos's resource API. Until
// now rackboot knew only what the node's DHCP client put in option 12, which
// is what the firmware or Talos's DHCP client chose to send, not what the
// node calls itself. Upstream, restated:
// - network.HostnameStatus, type HostnameStatuses.net.talos.dev, namespace
//   "network", the single resource with id "hostname" (network.HostnameID);
//   spec keys `hostname` and `domainname` (pkg/machinery/resources/network/
//   hostname_status.go and hostname_spec.go, same at v1.11.0 and v1.12.0).
// - It is non-sensitive, so maintenance mode serves it to a client without
//   a certificate as it serves the hardware resources (internal/app/
//   resources/access.go, v1.11.0..v1.12.x).
// Reading is best effort: a node that does not answer it still installs.
import { parse as parseYaml } from 'yaml';
import { nodeRowsOf } from '../store/pg/pg-node-rows.js';
import type { HostnameRow } from '../store/readers.js';
import type { Store } from '../store/store.js';
import type { CosiResource, TalosClient } from './client.js';
import { ClientClosedError } from './errors.js';

export const HOSTNAME_STATUS = { namespace: 'network', type: 'HostnameStatuses.net.talos.dev', id: 'hostname' } as const;

export interface ReportedHostname { hostname: string; domainname: string }

/** When rackboot asked: at first contact in maintenance mode, or when an installed node first answered over mTLS. */
export type HostnameSeenIn = 'maintenance' | 'installed';

export interface NodeHostnameRecord extends ReportedHostname { seenIn: HostnameSeenIn; readAt: number }

/** Pure: the hostname in a List answer, or undefined when the node holds none (or an empty one). */
export function hostnameFromResources(list: CosiResource[]): ReportedHostname | undefined {
  const r = list.find((x) => (x.metadata?.id ?? HOSTNAME_STATUS.id) === HOSTNAME_STATUS.id);
  if (!r?.spec?.yaml_spec) return undefined;
  let spec: unknown;
  try {
    spec = parseYaml(r.spec.yaml_spec, { schema: 'failsafe' });
  } catch {
    return undefined;
  }
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return undefined;
  const s = spec as Record<string, unknown>;
  const hostname = typeof s.hostname === 'string' ? s.hostname.trim() : '';
  if (!hostname) return undefined;
  return { hostname, domainname: typeof s.domainname === 'string' ? s.domainname.trim() : '' };
}

// With `store: postgres://…` the rows are in the shared database (branch pg-local, pg/pg-node-rows.ts): the
// leader reads the hostname, and every appliance's node page shows it.
export function recordNodeHostname(store: Store, node: string, h: ReportedHostname, seenIn: HostnameSeenIn, at = Date.now()): void {
  nodeRowsOf(store, 'node_hostname').upsert(node, { hostname: h.hostname, domainname: h.domainname, seen_in: seenIn, read_at: at });
}

export function nodeHostname(store: Store, node: string): NodeHostnameRecord | undefined {
  return hostnameRecordOf(nodeRowsOf(store, 'node_hostname').get(node) as HostnameRow | undefined);
}

/** A node_hostname row as the record (the admin page reads the rows for a whole page at once: store.readers.pageNodes). */
export function hostnameRecordOf(row: HostnameRow | undefined): NodeHostnameRecord | undefined {
  return row ? { hostname: row.hostname, domainname: row.domainname, seenIn: row.seen_in as HostnameSeenIn, readAt: Number(row.read_at) } : undefined;
}

/** Asks the node and keeps the answer; any failure other than a closed client leaves the last record as it was. */
export async function readNodeHostname(store: Store, node: string, client: TalosClient, seenIn: HostnameSeenIn, now = Date.now()): Promise<ReportedHostname | undefined> {
  try {
    const h = hostnameFromResources(await client.listResources(HOSTNAME_STATUS.namespace, HOSTNAME_STATUS.type));
    if (h) recordNodeHostname(store, node, h, seenIn, now);
    return h;
  } catch (err) {
    if (err instanceof ClientClosedError) throw err;
    return undefined;
  }
}
