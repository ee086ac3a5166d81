// `rackboot doctor`: everything that stops this box from serving, each with
// how to fix it. It binds the ports it checks for a moment and releases them.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatInventoryError, loadInventoryFile } from '../inventory/load.js';
import { resolveProvisioningAddress } from '../net/interfaces.js';
import { schematicId } from '../factory/schematic.js';
import { archesIn } from '../factory/assets.js';
import { ukisIn } from '../factory/uki.js';
import { secretsPath } from '../talos/secrets.js';
import { talosconfigPath } from '../talos/talosconfig.js';
import { recordedTalosServiceState, type TalosServiceState } from '../talos/service.js';
import { Store } from '../store/store.js';
import { splitHostPort, type Settings } from '../settings/settings.js';
import { labFindings } from '../lab/prerequisites.js';
import { adminCertificateFinding } from '../http/admin/tls.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';
import { LISTEN_OPTIONS, listenFlags } from './serve.js';
import { imageCacheFindings } from '../registry/doctor-findings.js';
import { neededImages } from './images.js';
import { postgresFindings } from '../store/pg/doctor-findings.js';
import { arm64BootFindings } from './doctor-arm64.js';
import { dhcpReceiveBufferFinding, DHCP_RECEIVE_BUFFER_BYTES, grantedReceiveBuffer } from './doctor-dhcp-buffer.js';
import { processAlive } from '../process-alive.js';

export interface Finding {
  level: 'ok' | 'warn' | 'fail';
  check: string;
  detail: string;
  fix?: string;
}

const CAP_NET_BIND_SERVICE = 10n;
const CAP_NET_RAW = 13n;

function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : 0n;
  } catch {
    return 0n;
  }
}

async function udpPortFree(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', (err) => (s.close(), resolve(err)));
    s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

async function tcpPortFree(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err) => resolve(err));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

function portFinding(name: string, port: number, proto: 'udp' | 'tcp', err: NodeJS.ErrnoException | undefined, host: string): Finding {
  if (!err) return { level: 'ok', check: `${name} port ${proto}/${port}`, detail: `free on ${host}` };
  if (err.code === 'EADDRINUSE') {
    return { level: 'fail', check: `${name} port ${proto}/${port}`, detail: `in use by another program on ${host}`, fix: `find it with: ss -${proto === 'udp' ? 'u' : 't'}lnp 'sport = :${port}' and stop it, or choose another port` };
  }
  if (err.code === 'EACCES') {
    return { level: 'fail', check: `${name} port ${proto}/${port}`, detail: 'permission denied', fix: 'run as root, or grant CAP_NET_BIND_SERVICE (the systemd unit does this)' };
  }
  return { level: 'fail', check: `${name} port ${proto}/${port}`, detail: `${host}: ${err.message}` };
}

/** A socket `serve` would open with these settings; doctor checks each one. */
export interface PlannedListener {
  service: string;
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
}

/**
 * Every port `serve` would bind with these settings, on the address it would
 * bind it (a listener added to the daemon is added here too).
 * DHCP binds the wildcard on the provisioning interface.
 */
export function plannedListeners(settings: Settings, provisioningAddress: string | undefined): PlannedListener[] {
  const out: PlannedListener[] = [];
  if (settings.dhcp.mode !== 'off') {
    out.push({ service: 'DHCP', proto: 'udp', host: '0.0.0.0', port: 67 });
    if (settings.dhcp.mode === 'proxy') out.push({ service: 'proxyDHCP', proto: 'udp', host: '0.0.0.0', port: 4011 });
  }
  if (settings.tftp.enabled) out.push({ service: 'TFTP', proto: 'udp', host: provisioningAddress ?? '0.0.0.0', port: settings.tftp.port });
  const http = splitHostPort(settings.http.listen);
  out.push({ service: 'HTTP', proto: 'tcp', host: http.host, port: http.port });
  const admin = splitHostPort(settings.http.adminListen);
  out.push({ service: 'admin HTTPS', proto: 'tcp', host: admin.host, port: admin.port });
  if (settings.console.enabled) out.push({ service: 'console', proto: 'udp', host: settings.serverAddress ?? '0.0.0.0', port: settings.console.port });
  return out;
}

export async function diagnose(settings: Settings): Promise<Finding[]> {
  const findings: Finding[] = [];
  const caps = effectiveCaps();
  const root = process.geteuid?.() === 0;
  const net = resolveProvisioningAddress(settings);
  const listeners = plannedListeners(settings, 'error' in net ? undefined : net.address);
  const privilegedPorts = [...new Set(listeners.filter((l) => l.port > 0 && l.port < 1024).map((l) => `${l.proto}/${l.port}`))];
  if (privilegedPorts.length > 0) {
    const bind = root || (caps & (1n << CAP_NET_BIND_SERVICE)) !== 0n;
    findings.push(bind
      ? { level: 'ok', check: 'privileged ports', detail: `${privilegedPorts.join(', ')}: ${root ? 'running as root' : 'CAP_NET_BIND_SERVICE'}` }
      : { level: 'fail', check: 'privileged ports', detail: `cannot bind ${privilegedPorts.join(', ')}`, fix: 'run as root, or use systemd/rackboot.service (AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW)' });
  }
  if (settings.dhcp.mode !== 'off') {
    const raw = root || (caps & (1n << CAP_NET_RAW)) !== 0n;
    findings.push(raw
      ? { level: 'ok', check: 'interface binding', detail: 'may bind DHCP to one interface (CAP_NET_RAW)' }
      : { level: 'warn', check: 'interface binding', detail: 'no CAP_NET_RAW: binding DHCP to the provisioning interface may be refused on older kernels', fix: 'grant CAP_NET_RAW' });
    findings.push(dhcpReceiveBufferFinding(await grantedReceiveBuffer(DHCP_RECEIVE_BUFFER_BYTES)));
  }

  if ('error' in net) {
    const needsNet = settings.dhcp.mode !== 'off' || settings.tftp.enabled;
    findings.push({ level: needsNet ? 'fail' : 'warn', check: 'provisioning interface', detail: net.error, fix: 'set interface (and serverAddress) in rackboot.yaml' });
  } else {
    findings.push({ level: 'ok', check: 'provisioning interface', detail: `${net.iface} ${net.address} (${net.how})` });
  }

  for (const l of listeners) {
    const err = l.proto === 'udp' ? await udpPortFree(l.port, l.host) : await tcpPortFree(l.port, l.host);
    findings.push(portFinding(l.service, l.port, l.proto, err, l.host));
  }
  findings.push(adminCertificateFinding(settings));

  if (settings.tftp.enabled) {
    for (const bin of ['undionly.kpxe', settings.dhcp.efiBinary]) {
      const path = join(settings.tftp.root, bin);
      findings.push(existsSync(path)
        ? { level: 'ok', check: `iPXE binary ${bin}`, detail: path }
        : { level: 'fail', check: `iPXE binary ${bin}`, detail: `missing: ${path}`, fix: 'apt-get install ipxe, then run: bash .ci/setup app (copies them into the TFTP root)' });
    }
  }

  findings.push(writableDirFinding('data directory', settings.dataDir, 'set dataDir in rackboot.yaml to a directory rackboot may write'));
  findings.push(writableDirFinding('asset cache', settings.assetsDir, 'set assetsDir in rackboot.yaml to a directory rackboot may write'));

  // Without these the appliance still PXE-boots nodes, but cannot configure them.
  const secrets = secretsPath(settings.dataDir);
  const admin = talosconfigPath(settings.dataDir);
  findings.push(existsSync(secrets)
    ? { level: 'ok', check: 'cluster secrets', detail: secrets }
    : { level: 'warn', check: 'cluster secrets', detail: `no secrets bundle at ${secrets}: nodes cannot be configured`, fix: 'rackboot init (or rackboot init --import FILE)' });
  findings.push(existsSync(admin)
    ? { level: 'ok', check: 'talosconfig', detail: admin }
    : { level: 'warn', check: 'talosconfig', detail: `no ${admin}: push, bootstrap and reimage are off`, fix: 'rackboot talosconfig' });
  findings.push(talosServiceFinding(settings, existsSync(admin)));
  // scale-out (issue 21): the shared PostgreSQL, when this appliance is one of several.
  if (settings.scaleOut?.postgres) findings.push(...(await postgresFindings(settings.scaleOut.postgres)));

  const inv = loadInventoryFile(settings.inventory, settings);
  if (!inv.ok) {
    for (const e of inv.errors) findings.push({ level: 'fail', check: 'inventory', detail: formatInventoryError(e), fix: 'fix the file; rackboot inventory check shows every problem' });
  } else {
    findings.push({ level: 'ok', check: 'inventory', detail: `${settings.inventory}: ${inv.inventory.nodes.length} nodes` });
    const c = inv.inventory.cluster;
    const id = schematicId(c.schematic);
    const arches = archesIn(inv.inventory.nodes);
    for (const arch of arches) {
      const dir = join(settings.assetsDir, id, c.talosVersion);
      const missing = [`kernel-${arch}`, `initramfs-${arch}.xz`].filter((f) => !existsSync(join(dir, f)));
      findings.push(missing.length === 0
        ? { level: 'ok', check: `boot assets ${arch}`, detail: dir }
        : { level: 'fail', check: `boot assets ${arch}`, detail: `not cached: ${missing.join(', ')} in ${dir}`, fix: `rackboot assets fetch --version ${c.talosVersion} --arch ${arch} (or rackboot assets import --dir DIR offline)` });
    }
    // branch secureboot (issue 23): the UKIs of httpBoot: uki / secureBoot nodes.
    for (const { arch, name } of ukisIn(inv.inventory.nodes)) {
      const dir = join(settings.assetsDir, id, c.talosVersion);
      findings.push(existsSync(join(dir, name))
        ? { level: 'ok', check: `UKI ${name}`, detail: dir }
        : { level: 'fail', check: `UKI ${name}`, detail: `not cached in ${dir}: its nodes get no HTTP boot answer`, fix: `rackboot assets fetch --version ${c.talosVersion} --arch ${arch} (or rackboot assets import --dir DIR offline)` });
    }
    // branch arm64 (issue 23): arm64 nodes on iPXE need an arm64 iPXE build.
    findings.push(...arm64BootFindings(settings, inv.inventory.nodes));
    // branch registry (issue 20): the image cache behind /v2/.
    findings.push(...imageCacheFindings(settings.dataDir, settings.registry.mirror, neededImages(settings, inv.inventory)));
  }
  return findings;
}

/** A directory from the settings: there and writable, or creatable (its nearest existing parent writable). */
function writableDirFinding(check: string, dir: string, fix: string): Finding {
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  const st = statSync(probe);
  if (!st.isDirectory()) return { level: 'fail', check, detail: `${dir}: ${probe} is not a directory`, fix };
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    return { level: 'fail', check, detail: `${dir}: ${probe} is not writable`, fix };
  }
  return { level: 'ok', check, detail: probe === dir ? dir : `${dir} (created on first use)` };
}

/**
 * The running daemon's Talos API service as it recorded it in the store:
 * the file being there is not the same as the service using it.
 */
function talosServiceFinding(settings: Settings, haveTalosconfig: boolean): Finding {
  const check = 'Talos API service';
  const dbFile = join(settings.dataDir, 'rackboot.db');
  let recorded: TalosServiceState | undefined;
  if (existsSync(dbFile)) {
    const store = new Store(dbFile);
    try {
      recorded = recordedTalosServiceState(store);
    } finally {
      store.close();
    }
  }
  if (!recorded || recorded.state === 'stopped' || !processAlive(recorded.pid)) return { level: 'ok', check, detail: 'rackboot serve is not running here' };
  const since = new Date(recorded.since).toISOString();
  if (recorded.state === 'running') return { level: 'ok', check, detail: `running since ${since}: ${recorded.detail}` };
  if (recorded.state === 'failed') return { level: 'fail', check, detail: recorded.detail, fix: 'write a good talosconfig: rackboot talosconfig' };
  return haveTalosconfig
    ? { level: 'fail', check, detail: `serve recorded "${recorded.detail}" at ${since}, but the talosconfig is there`, fix: 'restart rackboot serve (a daemon older than this one does not watch for the file)' }
    : { level: 'warn', check, detail: recorded.detail, fix: 'rackboot init, then rackboot talosconfig' };
}

export const doctor: Command = {
  name: ['doctor'],
  summary: 'report what stops this box from serving, and how to fix it',
  usage: `rackboot doctor [--json] [--lab] [--http-listen HOST:PORT] [--no-dhcp] [--no-tftp]

Checks, for the settings and flags \`serve\` would run with, every port it
would bind (DHCP, proxyDHCP, TFTP, HTTP, console) on the address it would
bind it, the privileges those ports need, the provisioning interface and
address, the iPXE binaries, the boot-asset cache and the inventory; with
scaleOut.postgres also the shared database (reachable, schema version, which
appliance leads the Talos steps, clock skew against the server).
Exits 1 if anything would stop the appliance from serving.
With --lab, checks instead what rackboot lab needs: root, QEMU, OVMF,
iPXE, and the tools that build the Talos stand-in.`,
  options: { json: { type: 'boolean' }, lab: { type: 'boolean' }, ...LISTEN_OPTIONS },
  async run(args, io) {
    let findings: Finding[];
    if (args.values.lab) findings = labFindings();
    else {
      const settings = settingsFor(args, io, listenFlags(args));
      if (!settings) return EXIT_FAILURE;
      findings = await diagnose(settings);
    }
    if (args.values.json) io.out(JSON.stringify(findings, null, 2));
    else {
      for (const f of findings) {
        io.out(`${f.level.toUpperCase().padEnd(4)}  ${f.check}: ${f.detail}`);
        if (f.fix) io.out(`      fix: ${f.fix}`);
      }
    }
    return findings.some((f) => f.level === 'fail') ? EXIT_FAILURE : EXIT_OK;
  },
};
