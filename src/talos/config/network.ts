// The node's own network settings: its hostname, and when the inventory gives
// it an address, that address configured statically on the NIC with the
// inventory's MAC (so the right port gets it whatever the kernel names it).
// Before Talos 1.12 this sits in machine.network; from 1.12 on it is a set
// of documents of its own (HostnameConfig, LinkAliasConfig + LinkConfig,
// ResolverConfig), which the v1.12 schema requires.
import type { Settings } from '../../settings/settings.js';
import type { Json } from './patch.js';

type NodeNet = { name: string; mac: string; ip?: string };
type NetSettings = Pick<Settings, 'dhcp'>;

/** Prefix length of the provisioning subnet, or 24 when the settings name none. */
function prefixFor(settings: NetSettings): number {
  const m = /\/(\d+)$/.exec(settings.dhcp.subnet ?? '');
  return m ? Number(m[1]) : 24;
}

/** machine.network for Talos < 1.12. */
export function legacyNodeNetwork(node: NodeNet, settings: NetSettings): Record<string, Json> {
  const network: Record<string, Json> = { hostname: node.name };
  if (!node.ip) return network;
  const iface: Record<string, Json> = {
    // The permanent (burned-in) MAC: a bond or a driver that rewrites the current MAC cannot move the address to
    // another port (NetworkDeviceSelector.permanentAddr, matched against LinkStatus.permanentAddr in
    // internal/app/machined/pkg/controllers/network/device_config.go, v1.11.0).
    deviceSelector: { permanentAddr: node.mac },
    addresses: [`${node.ip}/${prefixFor(settings)}`],
  };
  if (settings.dhcp.gateway) iface.routes = [{ network: '0.0.0.0/0', gateway: settings.dhcp.gateway }];
  iface.dhcp = false;
  network.interfaces = [iface];
  if (settings.dhcp.dns.length > 0) network.nameservers = [...settings.dhcp.dns];
  return network;
}

/** The link alias rackboot gives the provisioning NIC in Talos ≥ 1.12 configs. */
export const PROVISIONING_LINK = 'net0';

/** Network documents for Talos ≥ 1.12. */
export function nodeNetworkDocuments(node: NodeNet, settings: NetSettings): Record<string, Json>[] {
  const docs: Record<string, Json>[] = [{ apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: node.name }];
  if (!node.ip) return docs;
  docs.push({ apiVersion: 'v1alpha1', kind: 'LinkAliasConfig', name: PROVISIONING_LINK, selector: { match: `mac(link.permanent_addr) == "${node.mac}"` } });
  const link: Record<string, Json> = { apiVersion: 'v1alpha1', kind: 'LinkConfig', name: PROVISIONING_LINK, up: true, addresses: [{ address: `${node.ip}/${prefixFor(settings)}` }] };
  if (settings.dhcp.gateway) link.routes = [{ gateway: settings.dhcp.gateway }];
  docs.push(link);
  if (settings.dhcp.dns.length > 0) docs.push({ apiVersion: 'v1alpha1', kind: 'ResolverConfig', nameservers: settings.dhcp.dns.map((address) => ({ address })) });
  return docs;
}
