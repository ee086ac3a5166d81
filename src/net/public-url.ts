// The base URL machines reach the boot plane at: the configured
// http.publicUrl, else the listen address (the provisioning address when
// the listener is a wildcard). The daemon builds it from the port it bound;
// the CLI from the configured one, so `rackboot config` names the same host.
import { resolveProvisioningAddress } from './interfaces.js';
import { splitHostPort, type Settings } from '../settings/settings.js';

export function publicUrlFor(host: string, port: number, provisioningAddress: string | undefined): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const h = wildcard ? (provisioningAddress ?? '127.0.0.1') : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/** The public URL as the settings say it, without a running listener. */
export function configuredPublicUrl(settings: Settings): string {
  if (settings.http.publicUrl) return settings.http.publicUrl;
  const listen = splitHostPort(settings.http.listen);
  const net = resolveProvisioningAddress(settings);
  return publicUrlFor(listen.host, listen.port, 'error' in net ? undefined : net.address);
}
