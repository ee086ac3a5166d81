// `rackboot serve`: wires the store, the inventory watcher and the services
// together, takes them down cleanly on SIGTERM/SIGINT, and reloads on SIGHUP.
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.js';
import { splitHostPort, type Settings } from './settings/settings.js';
import { Store } from './store/store.js';
import { checkpointOffLoop } from './store/checkpoint-off-loop.js';
import { joinAppliances } from './store/pg/appliances.js';
import { SharedStore } from './store/pg/shared-store.js';
import { InventoryWatcher } from './inventory/watch.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { buildAdminServer, buildBootServer } from './http/server.js';
import { adminTlsMaterial } from './http/admin/tls.js';
import { flattenMetrics } from './http/admin/metrics.js';
import type { HttpContext } from './http/context.js';
import { startLifecycleServices } from './lifecycle/service.js';
import { PowerMonitor } from './bmc/power-monitor.js';
import type { MetricsSource } from './lifecycle/ports.js';
import { resolveProvisioningAddress } from './net/interfaces.js';
import { startTftpService } from './tftp/server.js';
import { chainScript } from './ipxe/scripts.js';
import { startTalosService, talosInstallingProbe } from './talos/service.js';
import { leadershipMetrics } from './talos/leadership.js';
import { Commissioner } from './talos/commission.js';
import { operateNode } from './bmc/operate.js';
import { KernelNeighbours } from './net/neighbours.js';
import { boundLeaseAddress } from './store/bound-lease.js';
import { startRolloutService } from './day2/rollout-service.js';
import { AutoPower } from './bmc/auto-power.js';
import { SolCapture } from './bmc/sol-capture.js';
import { stepClockStart } from './bmc/auto-policy.js';
import { configForNode, resolvedInstallDisk } from './talos/config/node-config.js';
import { publicUrlFor } from './net/public-url.js';
import { loadSecrets } from './talos/secrets.js';
import { startDhcpService } from './dhcp/server.js';
import { startRouterAdvertService } from './ndp/service.js';
import { startIpv6Netboot } from './dhcpv6/start.js';
import type { PgDhcpSegment } from './store/pg/dhcp-segment.js';
import { bindListener, listenerAddress } from './net/listener.js';
import { makeDataDirPrivate, provideAdminToken, type TokenAnnouncer } from './data-dir.js';
import { reloadDaemon, type ReloadReport } from './reload.js';
import { watchEventLoop } from './loop-watch.js';
import { DAEMON_ACK_THREAD } from './tftp/server.js';
import { Day2Service } from './day2/service.js';

/** Accept queue of the boot-plane HTTP listener (see where it is bound). */
const BOOT_ACCEPT_BACKLOG = 4096;

export interface Daemon {
  store: Store;
  /** The boot plane (plain HTTP). */
  http: FastifyInstance;
  /** The admin plane (HTTPS). */
  admin: FastifyInstance;
  watcher: InventoryWatcher;
  /** The HTTP address actually bound (useful with port 0). */
  httpAddress: { host: string; port: number };
  /** SIGHUP: live settings, the inventory, the log (see reload.ts). */
  reload(): Promise<ReloadReport>;
  /** The admin listener's address actually bound, and its certificate's SHA-256 fingerprint. */
  adminAddress: { host: string; port: number; fingerprint: string };
  close(): Promise<void>;
}

/** A service (DHCP, TFTP, …) the daemon starts after HTTP and stops before the store closes. */
export interface Service {
  name: string;
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Reads the settings again (same file, same flags) for a reload. */
  reloadSettings?: () => Settings;
  /** Where a generated admin token may be shown; by default nowhere (it is in DATA/admin-token). */
  screen?: TokenAnnouncer;
}

export async function startDaemon(settings: Settings, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  // Whatever has started is stopped, newest first, if a later step fails:
  // a listener that cannot bind must not leave a watcher keeping us alive.
  const undo: Array<() => unknown> = [];
  try {
    return await start(settings, log, opts, undo);
  } catch (err) {
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => undefined);
    throw err;
  }
}

async function start(settings: Settings, log: Logger, opts: DaemonOptions, undo: Array<() => unknown>): Promise<Daemon> {
  makeDataDirPrivate(settings.dataDir, log);
  const stopLoopWatch = watchEventLoop(log);
  undo.push(stopLoopWatch);
  // With scaleOut.postgres, nodes, events and discovered machines live in that database (issue 21).
  const storeFile = join(settings.dataDir, 'rackboot.db');
  const conninfo = settings.scaleOut?.postgres;
  const store = conninfo ? new SharedStore(storeFile, conninfo, { log: log.child({ svc: 'store' }) }) : new Store(storeFile);
  undo.push(() => store.close());
  const checkpoints = checkpointOffLoop(store.db, storeFile, log.child({ svc: 'store' }));
  if (checkpoints) undo.push(() => checkpoints.stop());
  provideAdminToken(store, settings.adminToken, settings.dataDir, log, opts.screen ?? { isTTY: false, out: () => undefined });
  const lifecycle = new Lifecycle(store, { log: log.child({ svc: 'lifecycle' }), sightingsLater: true });
  undo.push(() => lifecycle.writeSightings());
  // pg-ops: on a shared database, what this appliance was given is recorded, and a different inventory file refused (appliances.ts).
  const appliances = conninfo ? await joinAppliances(conninfo, settings.dataDir, settings.adminToken, log.child({ svc: 'appliances' })) : undefined;
  if (appliances) undo.push(() => appliances.close());
  const watcher = new InventoryWatcher(settings.inventory, store, log.child({ svc: 'inventory' }), { render: settings, claims: appliances });
  appliances?.whenFilesAgree(() => void watcher.reloadInBackground().catch(() => undefined));
  // On PostgreSQL the first load is the sliced one too, so the loop keeps turning (SQLite's stays direct).
  if (conninfo) await watcher.reloadInBackground();
  else watcher.reload();
  // A packet from a machine no node lists is then answered from memory, not by two round trips on the loop (inventory-macs.ts).
  if (store instanceof SharedStore) await store.shared.watchInventoryMacs(log.child({ svc: 'store' }));
  watcher.start();
  undo.push(() => watcher.stop());

  const listen = splitHostPort(settings.http.listen);
  const net = needsProvisioningNetwork(settings) || !settings.http.publicUrl ? resolveProvisioningAddress(settings) : undefined;
  if (net && 'error' in net && needsProvisioningNetwork(settings)) throw new Error(`cannot serve DHCP/TFTP: ${net.error}`);
  const services: Service[] = [];
  undo.push(async () => {
    for (const svc of services.reverse()) await svc.close().catch(() => undefined);
  });
  const ctx: HttpContext = {
    settings, store, lifecycle, log,
    publicUrl: '',
    inventory: () => watcher.inventory,
    inventoryStatus: () => watcher.status,
  };
  // The page's power column: every BMC read in the background, each read bounded (src/bmc/power-monitor.ts).
  const power = new PowerMonitor({ dataDir: settings.dataDir, nodes: () => watcher.inventory?.nodes ?? [], timeoutMs: settings.bmc.timeoutSeconds * 1000 });
  ctx.power = power;
  undo.push(() => power.stop());
  const http = buildBootServer(ctx);
  undo.push(() => http.close());
  // A rack powered on at once connects together, while the loop may be
  // busy: Node's default accept queue (511) is smaller than a 1,000-machine
  // storm, and each SYN dropped for a full queue costs a client 1, 3, 7… s
  // of retries. The kernel caps this at net.core.somaxconn (4096 by default).
  await bindListener('HTTP', listenerAddress('tcp', listen.host, listen.port), () => http.listen({ host: listen.host, port: listen.port, backlog: BOOT_ACCEPT_BACKLOG }));
  const adminListen = splitHostPort(settings.http.adminListen);
  const tls = await adminTlsMaterial(settings);
  const adminFingerprint = tls.fingerprint;
  if (tls.generated) log.warn({ cert: tls.certFile, sha256: tls.fingerprint }, 'generated a self-signed certificate for the admin listener; compare this fingerprint in the browser');
  const admin = buildAdminServer(ctx, { tls });
  undo.push(() => admin.close());
  await bindListener('admin HTTPS', listenerAddress('tcp', adminListen.host, adminListen.port), () => admin.listen({ host: adminListen.host, port: adminListen.port }));
  const bound = http.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : listen.port;
  const adminBound = admin.server.address();
  const adminPort = typeof adminBound === 'object' && adminBound ? adminBound.port : adminListen.port;
  ctx.publicUrl = settings.http.publicUrl ?? publicUrlFor(listen.host, port, net && !('error' in net) ? net.address : undefined);
  // Services on the provisioning network (DHCP, TFTP) start here, after HTTP
  // so the URLs they hand out already answer. Each pushes a Service onto
  // `services`; close() stops them in reverse order before the store closes.
  if (settings.tftp.enabled) {
    services.push(await startTftpService({
      settings, store, log: log.child({ svc: 'tftp' }),
      // Only the provisioning network gets TFTP, never every interface.
      host: net && !('error' in net) ? net.address : '0.0.0.0',
      // Firmware that cannot fetch HTTP can still get the chain script by name.
      virtualFiles: { 'boot.ipxe': () => chainScript(ctx.publicUrl) },
      // ACKs taken off the loop by the shared receiver thread (src/tftp/server.ts ackThread);
      // RACKBOOT_TFTP_ACK_THREAD=0 keeps them on the loop's uv_poll.
      ackThread: process.env.RACKBOOT_TFTP_ACK_THREAD === '0' ? false : DAEMON_ACK_THREAD,
    }));
  }
  let dhcpSegment: PgDhcpSegment | undefined;
  if (settings.dhcp.mode !== 'off' && net && !('error' in net)) {
    const dhcp = await startDhcpService({ settings, store, lifecycle, log, publicUrl: ctx.publicUrl, provisioning: net, inventory: ctx.inventory });
    services.push(dhcp);
    dhcpSegment = dhcp.segment;
    // With DHCPv6 on, the advertisement says "managed" instead (startIpv6Netboot).
    if (settings.dhcp.routerAdvertisement && !settings.dhcpv6.enabled) {
      const sourceMac = networkInterfaces()[net.iface]?.[0]?.mac;
      services.push(startRouterAdvertService({ iface: net.iface, sourceMac, log: log.child({ svc: 'ndp' }) }));
    }
  }
  // branch ipv6 (issue 23): DHCPv6, TFTP on the IPv6 address, managed router advertisements.
  if (settings.dhcpv6.enabled && net && !('error' in net)) {
    services.push(...(await startIpv6Netboot({
      settings, store, lifecycle, log, iface: net.iface, httpPort: port,
      virtualFiles: { 'boot.ipxe': () => chainScript(ctx.publicUrl) }, segment: dhcpSegment,
    })));
  }
  // The automatic BMC paths: reimage fallback (asked by the Talos service
  // after its reset step) and the stuck-provisioning retry (by the sweeper).
  const autoPower = new AutoPower(store, {
    dataDir: settings.dataDir, settings: () => ctx.settings.power,
    installing: talosInstallingProbe(store, settings.dataDir), log: log.child({ svc: 'bmc' }),
    beforePower: (n, actor) => ctx.sol?.beforePower(n, actor) ?? Promise.resolve(),
  });
  services.push({ name: 'bmc-auto', close: () => autoPower.close() });
  const talos = startTalosService({
    settings, store, states: lifecycle.machine, log: log.child({ svc: 'talos' }), resetFallback: autoPower,
    // Push: the node's config rendered from the live inventory and the secrets bundle.
    renderConfig: async (name, chosen) => {
      const inv = watcher.inventory;
      const node = inv?.nodes.find((n) => n.name === name);
      if (!inv || !node) throw new Error(`node ${name} is not in the live inventory`);
      return Buffer.from(configForNode(inv.cluster, node, { settings: ctx.settings, publicUrl: ctx.publicUrl, secrets: loadSecrets(settings.dataDir), installDiskOf: resolvedInstallDisk(store) }, chosen?.installDisk));
    },
  });
  services.push(talos);
  ctx.talosService = () => talos.state();
  // scale-out (issue 21): rackboot_leader and friends, only with scaleOut.postgres.
  ctx.metricsSources = [...(ctx.metricsSources ?? []), { metrics: () => { const s = talos.leadership(); return s ? leadershipMetrics(s) : {}; } }];
  // branch commission: reads unknown machines that were served the commissioning kernel (discovery.commission).
  const neighbours = new KernelNeighbours({ iface: () => ctx.settings.interface });
  const commissioner = new Commissioner({
    store, log: log.child({ svc: 'commission' }),
    addressOf: (mac) => boundLeaseAddress(store.db, mac) ?? neighbours.addressOf(mac),
    powerOff: (n) => operateNode(store, n.spec, 'off', { dataDir: settings.dataDir, actor: 'commission', timeoutMs: ctx.settings.bmc.timeoutSeconds * 1000 }),
  });
  commissioner.start(5000);
  services.push({ name: 'commission', close: () => commissioner.close() });
  // day2-rollout: a running upgrade rollout continues after a restart.
  const rollouts = startRolloutService({ settings, store, log: log.child({ svc: 'rollout' }), schematic: () => watcher.inventory?.cluster.schematic, leadership: () => talos.coordination() });
  if (rollouts) services.push(rollouts);
  // day2-config: plan/apply for the page, and day2.autoApply after each inventory reload.
  const day2 = new Day2Service({
    settings: ctx.settings, store, inventory: () => watcher.inventory, log: log.child({ svc: 'day2' }),
    publicUrl: () => ctx.publicUrl,
  });
  ctx.day2 = day2;
  const autoApply = () => void day2.autoApply.trigger();
  watcher.on('applied', autoApply);
  services.push({ name: 'day2', close: () => (watcher.off('applied', autoApply), day2.close()) });
  // Lifecycle: console receiver, timeout sweeper, reimage marking. The Reset
  // itself is sent by the Talos service for nodes marked reimage-pending, so
  // no resetter is passed here: one place sends Reset.
  services.push(...(await startLifecycleServices(ctx, log, {
    resetter: undefined, metricsSources: metricsSources(services),
    stuck: { retry: (n, reason) => autoPower.stuckRetry(n, reason), clockStart: (n) => stepClockStart(store, n) },
    resetFallback: autoPower,
  })));
  // Serial-over-LAN into the console buffer while nodes PXE-boot (src/bmc/sol-capture.ts).
  if (ctx.console) {
    const sol = new SolCapture({
      store, console: ctx.console, dataDir: settings.dataDir, nodes: () => watcher.inventory?.nodes ?? [],
      seconds: () => ctx.settings.bmc.solSeconds, timeoutMs: settings.bmc.timeoutSeconds * 1000, log: log.child({ svc: 'sol' }),
    });
    sol.start();
    ctx.sol = sol;
    services.push({ name: 'sol', close: () => sol.close() });
  }
  power.start(settings.bmc.pollSeconds * 1000);
  services.push({ name: 'bmc-poller', close: () => power.stop() });

  log.info({ url: ctx.publicUrl, listen: `${listen.host}:${port}`, admin: `https://${hostForUrl(adminListen.host)}:${adminPort}/ui`, adminSha256: adminFingerprint, dhcp: settings.dhcp.mode, tftp: settings.tftp.enabled }, 'rackboot serving');

  let closing: Promise<void> | undefined;
  return {
    store, http, admin, watcher,
    httpAddress: { host: listen.host, port },
    reload: () => reloadDaemon({ settings, log, watcher, reloadSettings: opts.reloadSettings }),
    adminAddress: { host: adminListen.host, port: adminPort, fingerprint: adminFingerprint },
    close() {
      closing ??= (async () => {
        watcher.stop();
        for (const svc of services.reverse()) await svc.close().catch((err) => log.error({ err, svc: svc.name }, 'close failed'));
        await http.close();
        await admin.close();
        await appliances?.close();
        lifecycle.writeSightings();
        await checkpoints?.stop();
        store.close();
        stopLoopWatch();
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
function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Services that count things (DHCP, TFTP) feed /metrics. */
function metricsSources(services: Service[]): MetricsSource[] {
  return services
    .filter((s): s is Service & { metrics(): unknown } => typeof (s as { metrics?: unknown }).metrics === 'function')
    .map((s) => ({ metrics: () => flattenMetrics(s.name, s.metrics()) }));
}
