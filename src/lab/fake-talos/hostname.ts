// Lab and test use only.
// The fake node's HostnameStatus resource: the name the node calls itself,
// which rackboot reads through the state API (src/talos/node-hostname.ts).
// Upstream, restated:
// - Type HostnameStatuses.net.talos.dev in namespace "network", one
//   resource with id "hostname"; spec keys hostname and domainname
//   (pkg/machinery/resources/network/hostname_status.go, hostname_spec.go
//   HostnameID, v1.12.0; the same at v1.11.0). Non-sensitive.
// - Which name it holds (internal/app/machined/pkg/controllers/network/
//   hostname_config.go, v1.12.0): a name from the machine config wins over
//   the default one. The config names it in machine.network.hostname (up
//   to v1.11) or in a HostnameConfig document (v1.12, pkg/machinery/config/
//   types/network/hostname.go). Without a config (maintenance mode)
//   the fake reports its own hostname, standing for the default or DHCP
//   name a real node would pick.
import { parseAllDocuments } from 'yaml';

export const HOSTNAME_STATUS_TYPE = 'HostnameStatuses.net.talos.dev';

/** The name an active config gives the node, if any. */
function configHostname(active: Buffer): string | undefined {
  let docs: unknown[];
  try {
    docs = parseAllDocuments(active.toString()).map((d) => d.toJS() as unknown);
  } catch {
    return undefined;
  }
  for (const d of docs as Record<string, any>[]) {
    if (d?.kind === 'HostnameConfig' && typeof d.hostname === 'string' && d.hostname) return d.hostname;
    if (d?.version === 'v1alpha1' && typeof d.machine?.network?.hostname === 'string' && d.machine.network.hostname) return d.machine.network.hostname;
  }
  return undefined;
}

export function hostnameStatus(ownHostname: string, active?: Buffer): { namespace: string; type: string; id: string; spec: Record<string, unknown> } {
  const name = (active && configHostname(active)) || ownHostname;
  const dot = name.indexOf('.');
  // ParseFQDN (hostname_spec.go, v1.12.0): the first label is the hostname, the rest the domain.
  return { namespace: 'network', type: HOSTNAME_STATUS_TYPE, id: 'hostname',
    spec: dot > 0 ? { hostname: name.slice(0, dot), domainname: name.slice(dot + 1) } : { hostname: name, domainname: '' } };
}
