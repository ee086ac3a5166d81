// `rackboot serve`: wires the store, the inventory watcher and the services
// together, and takes them down cleanly on SIGTERM/SIGINT.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.js';
import { splitHostPort, type Settings } from './settings/settings.js';
import { Store } from './store/store.js';
import { InventoryWatcher } from './inventory/watch.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { buildHttpServer } from './http/server.js';
import { resolveProvisioningAddress } from './net/interfaces.js';
import { startDhcpService } from './dhcp/server.js';

export interface Daemon {
  store: Store;
  http: FastifyInstance;
  watcher: InventoryWatcher;
  /** The HTTP address actually bound (useful with port 0). */
  httpAddress: { host: string; port: number };
  close(): Promise<void>;
}

/** A service (DHCP, TFTP, …) the daemon starts after HTTP and stops before the store closes. */
export interface Service {
  name: string;
  close(): Promise<void>;
}

export async function startDaemon(settings: Settings, log: Logger): Promise<Daemon> {
  const store = new Store(join(settings.dataDir, 'rackboot.db'));
  const lifecycle = new Lifecycle(store);
  const watcher = new InventoryWatcher(settings.inventory, store, log.child({ svc: 'inventory' }));
  watcher.reload();
  watcher.start();

  const listen = splitHostPort(settings.http.listen);
  const net = needsProvisioningNetwork(settings) || !settings.http.publicUrl ? resolveProvisioningAddress(settings) : undefined;
  if (net && 'error' in net && needsProvisioningNetwork(settings)) {
    watcher.stop();
    store.close();
    throw new Error(`cannot serve DHCP/TFTP: ${net.error}`);
  }
  const services: Service[] = [];
  const ctx = {
    settings, store, lifecycle, log,
    publicUrl: '',
    inventory: () => watcher.inventory,
    inventoryStatus: () => watcher.status,
  };
  const http = buildHttpServer(ctx);
  await http.listen({ host: listen.host, port: listen.port });
  const bound = http.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : listen.port;
  ctx.publicUrl = settings.http.publicUrl ?? publicUrlFor(listen.host, port, net && !('error' in net) ? net.address : undefined);
  // Services on the provisioning network (DHCP, TFTP) start here, after HTTP
  // so the URLs they hand out already answer. Each pushes a Service onto
  // `services`; close() stops them in reverse order before the store closes.
  if (settings.dhcp.mode !== 'off' && net && !('error' in net)) {
    try {
      services.push(await startDhcpService({ settings, store, lifecycle, log, publicUrl: ctx.publicUrl, provisioning: net }));
    } catch (err) {
      await http.close();
      watcher.stop();
      store.close();
      throw err;
    }
  }

  log.info({ url: ctx.publicUrl, listen: `${listen.host}:${port}`, dhcp: settings.dhcp.mode, tftp: settings.tftp.enabled }, 'rackboot serving');

  let closing: Promise<void> | undefined;
  return {
    store, http, watcher,
    httpAddress: { host: listen.host, port },
    close() {
      closing ??= (async () => {
        watcher.stop();
        for (const svc of services.reverse()) await svc.close().catch((err) => log.error({ err, svc: svc.name }, 'close failed'));
        await http.close();
        store.close();
        log.info('rackboot stopped');
      })();
      return closing;
    },
  };
}

function needsProvisioningNetwork(s: Settings): boolean {
  return s.dhcp.mode !== 'off' || s.tftp.enabled;
}

/** The URL nodes use: the listen address unless it is a wildcard, then our provisioning address. */
function publicUrlFor(host: string, port: number, provisioningAddress: string | undefined): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const h = wildcard ? (provisioningAddress ?? '127.0.0.1') : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
