// rackboot.yaml: where the appliance listens and how it answers. Defaults are
// safe on a shared network: DHCP runs in proxy mode and answers only PXE
// clients whose MAC is in the inventory, handing out no addresses, until the
// operator chooses `full` and a subnet.
import { canonicalIpv6, inPrefix, ipv6Add, ipv6Bytes, isIpv6, parsePrefix } from '../dhcpv6/ipv6.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { redactConninfo } from './conninfo.js';
import { compileSchema, parseValidated, type PositionedError } from '../yaml/validated.js';
import { settingsSchema } from './schema.js';
import { DEFAULT_TIMEOUTS, type StateTimeouts } from '../lifecycle/states.js';

export type DhcpMode = 'full' | 'proxy' | 'off';
export interface Pool { start: string; end: string }
export interface RelaySubnet { subnet: string; pool?: Pool; gateway?: string; dns?: string[] }

export interface PowerSettings {
  /** Reimage: PXE-once + power-cycle through the BMC once Talos has not taken Reset for this long (0: never). */
  resetFallbackSeconds: number;
  /** …or after this many failed Reset attempts, whichever comes first. */
  resetFallbackAttempts: number;
  /** A node past a provisioning step's timeout gets one PXE-once + power-cycle before it is failed. */
  stuckRetry: boolean;
  /** `rackboot power on --registered`: nodes per wave, and the pause between waves. */
  waveSize: number;
  waveIntervalSeconds: number;
  /** Limit on each BMC call by the automatic paths. */
  bmcTimeoutSeconds: number;
}

export const DEFAULT_POWER_SETTINGS: PowerSettings = {
  resetFallbackSeconds: 120, resetFallbackAttempts: 3, stuckRetry: true, waveSize: 4, waveIntervalSeconds: 10, bmcTimeoutSeconds: 20,
};

export interface Settings {
  /** Where the settings came from, or undefined when only defaults apply. */
  file?: string;
  interface?: string;
  serverAddress?: string;
  dataDir: string;
  inventory: string;
  assetsDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  adminToken?: string;
  dhcp: {
    mode: DhcpMode;
    subnet?: string;
    pool?: Pool;
    gateway?: string;
    dns: string[];
    domain?: string;
    leaseSeconds: number;
    efiBinary: 'ipxe.efi' | 'snponly.efi';
    arm64Binary: string;
    /** When false, nodes that boot from disk get an address but no PXE boot file. */
    bootFileForInstalled: boolean;
    /** Answer IPv6 Router Solicitations with "no IPv6 here" so iPXE stops waiting for it. */
    routerAdvertisement: boolean;
    relays: RelaySubnet[];
    /**
     * What an ACK waits for: 'power', an fdatasync of the store's WAL (the
     * lease survives power loss); 'process', the commit alone (it survives
     * kill -9 and a daemon restart, not power loss). Bound at start.
     */
    leaseDurability: 'power' | 'process';
  };
  tftp: { enabled: boolean; root: string; port: number; maxBlksize: number; maxWindowsize: number; maxTransfers: number };
  http: {
    /** The boot plane: plain HTTP for firmware and iPXE, public routes only. */
    listen: string;
    /** The admin plane (page, API, /metrics) over TLS: loopback or a management address. */
    adminListen: string;
    /** Certificate and key files; absent: a self-signed pair in <dataDir>/admin-tls. */
    adminTls?: { cert: string; key: string };
    publicUrl?: string;
    allowAnonymousRead: boolean;
  };
  talos: { consoles: string[]; extraKernelArgs: string[] };
  lifecycle: { timeouts: StateTimeouts; sweepSeconds: number };
  /** The page's power-state poller and the API's BMC requests (per-node BMC details are in the inventory). */
  bmc: { pollSeconds: number; timeoutSeconds: number; solSeconds: number };
  /** What rackboot does through nodes' BMCs on its own (README "BMC control"). */
  power: PowerSettings;
  /** The UDP receiver for Talos kernel logs (talos.logging.kernel). */
  console: { enabled: boolean; port: number; linesPerNode: number };
  /** Image Factory base URL, without a trailing slash. */
  factory: { url: string };
  /** day2-rollout: Talos upgrade rollouts (README "Day 2"). */
  upgrade: { parallelism: number; returnSeconds: number };
  /** The boot plane's /v2/ image mirror in generated configs (README "Air-gapped racks"). */
  registry: { mirror: boolean; offline: boolean };
  /** Day-2 config changes (README "Day 2"): what the daemon applies on its own after an inventory reload. */
  day2: { autoApply: 'none' | 'no-reboot' };
  /**
   * scale-out (issue 21): several appliances share Talos leadership and the bootstrap state through PostgreSQL (docs/scale-out.md).
   * `postgres` is the shared store's URL, from the top-level `store` key (or its older name, `scaleOut.postgres`).
   */
  scaleOut?: { postgres?: string; dhcpSegment?: string; dhcpPollMs?: number };
  /** Commissioning unknown machines (README "Commissioning unknown machines"). */
  discovery: { commission: boolean };
  /** secureboot: UKI nodes (README "UEFI HTTP boot"); absent in hand-made settings means the defaults. */
  httpBoot?: { ukiSilenceSeconds: number };
  /** The scrape token for /metrics (else DATA_DIR/metrics-token, if that file exists). */
  metrics: { token?: string };
  /** DHCPv6 netboot (README "IPv6 netboot"), off by default. */
  dhcpv6: Dhcpv6Settings;
}

export interface Dhcpv6Settings {
  enabled: boolean;
  prefix?: string;
  address?: string;
  pool?: { start: string; end: string };
  dns: string[];
  leaseSeconds: number;
  rapidCommit: boolean;
}

/**
 * How long a UKI fetch may go unanswered: a Talos UKI is ~100 MB, fetched
 * and verified before it runs, and its kernel's DHCP comes seconds after it
 * starts; three minutes covers a slow boot plane without waiting the whole
 * booting timeout (10 min) to say the firmware refused the image.
 */
export const DEFAULT_UKI_SILENCE_SECONDS = 180;

/** Command-line flags that override the file. Paths are relative to the working directory. */
export interface SettingsOverrides {
  config?: string;
  inventory?: string;
  dataDir?: string;
  httpListen?: string;
  adminListen?: string;
  logLevel?: Settings['logLevel'];
  noDhcp?: boolean;
  noTftp?: boolean;
}

export class SettingsError extends Error {
  readonly errors: PositionedError[];
  constructor(errors: PositionedError[]) {
    // An error may echo a value, and store: may hold a password (printed at start, logged on reload).
    const shown = errors.map((e) => ({ ...e, message: redactConninfo(e.message) }));
    super(shown.map((e) => `${e.file}:${e.line}:${e.col}: ${e.message}`).join('\n'));
    this.errors = shown;
  }
}

const validateSettings = compileSchema(settingsSchema);

/** The settings file used when --config is not given: $RACKBOOT_CONFIG, ./rackboot.yaml, then /etc/rackboot/rackboot.yaml. */
export function defaultSettingsFile(cwd = process.cwd(), env = process.env): string | undefined {
  if (env.RACKBOOT_CONFIG) return resolve(cwd, env.RACKBOOT_CONFIG);
  for (const candidate of [resolve(cwd, 'rackboot.yaml'), '/etc/rackboot/rackboot.yaml']) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

type RawSettings = { store?: string } & Partial<Omit<Settings, 'dhcp' | 'tftp' | 'http' | 'talos' | 'lifecycle' | 'console' | 'factory' | 'bmc' | 'power' | 'upgrade' | 'registry' | 'metrics' | 'dhcpv6'>> & {
  metrics?: Partial<Settings['metrics']>;
  bmc?: Partial<Settings['bmc']>;
  power?: Partial<PowerSettings>;
  lifecycle?: { timeouts?: Partial<StateTimeouts>; sweepSeconds?: number };
  console?: Partial<Settings['console']>;
  dhcp?: Partial<Settings['dhcp']>;
  tftp?: Partial<Settings['tftp']>;
  http?: Partial<Settings['http']>;
  talos?: Partial<Settings['talos']>;
  factory?: Partial<Settings['factory']>;
  upgrade?: Partial<Settings['upgrade']>;
  registry?: Partial<Settings['registry']>;
  dhcpv6?: Partial<Dhcpv6Settings>;
};

export function loadSettings(over: SettingsOverrides = {}, cwd = process.cwd()): Settings {
  const file = over.config ? resolve(cwd, over.config) : defaultSettingsFile(cwd);
  let raw: RawSettings = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SettingsError([{ file, line: 0, col: 0, message: `cannot read settings: ${(err as Error).message}` }]);
    }
    const parsed = parseValidated<RawSettings>(text, file, validateSettings, { serverAddress: 'IPv4 address', subnet: 'CIDR subnet', listen: 'HOST:PORT', store: 'postgres:// URI or libpq connection string', postgres: 'postgres:// URI or libpq connection string' });
    if (!parsed.ok) throw new SettingsError(parsed.errors);
    raw = parsed.data;
  }
  const base = file ? dirname(file) : cwd;
  const path = (p: string | undefined, fallback: string, from = base) => resolve(from, p ?? fallback);

  const settings: Settings = {
    file,
    interface: raw.interface,
    serverAddress: raw.serverAddress,
    dataDir: over.dataDir ? resolve(cwd, over.dataDir) : path(raw.dataDir, './data'),
    inventory: over.inventory ? resolve(cwd, over.inventory) : path(raw.inventory, './inventory/cluster.yaml'),
    assetsDir: path(raw.assetsDir, './assets'),
    logLevel: over.logLevel ?? raw.logLevel ?? 'info',
    adminToken: raw.adminToken,
    dhcp: {
      mode: over.noDhcp ? 'off' : (raw.dhcp?.mode ?? 'proxy'),
      subnet: raw.dhcp?.subnet,
      pool: raw.dhcp?.pool,
      gateway: raw.dhcp?.gateway,
      dns: raw.dhcp?.dns ?? [],
      domain: raw.dhcp?.domain,
      leaseSeconds: raw.dhcp?.leaseSeconds ?? 3600,
      efiBinary: raw.dhcp?.efiBinary ?? 'ipxe.efi',
      arm64Binary: raw.dhcp?.arm64Binary ?? 'ipxe-arm64.efi',
      bootFileForInstalled: raw.dhcp?.bootFileForInstalled ?? true,
      // Only where we own the network: beside a site's routers we stay quiet.
      routerAdvertisement: raw.dhcp?.routerAdvertisement ?? ((over.noDhcp ? 'off' : (raw.dhcp?.mode ?? 'proxy')) === 'full'),
      relays: raw.dhcp?.relays ?? [],
      leaseDurability: raw.dhcp?.leaseDurability ?? 'power',
    },
    tftp: {
      enabled: over.noTftp ? false : (raw.tftp?.enabled ?? true),
      root: path(raw.tftp?.root, './ipxe'),
      port: raw.tftp?.port ?? 69,
      maxBlksize: raw.tftp?.maxBlksize ?? 1468,
      maxWindowsize: raw.tftp?.maxWindowsize ?? 16,
      maxTransfers: raw.tftp?.maxTransfers ?? 64,
    },
    http: {
      listen: over.httpListen ?? raw.http?.listen ?? '0.0.0.0:8080',
      adminListen: over.adminListen ?? raw.http?.adminListen ?? '127.0.0.1:8443',
      adminTls: raw.http?.adminTls && { cert: path(raw.http.adminTls.cert, ''), key: path(raw.http.adminTls.key, '') },
      publicUrl: raw.http?.publicUrl,
      allowAnonymousRead: raw.http?.allowAnonymousRead ?? false,
    },
    talos: { consoles: raw.talos?.consoles ?? ['ttyS0'], extraKernelArgs: raw.talos?.extraKernelArgs ?? [] },
    lifecycle: { timeouts: { ...DEFAULT_TIMEOUTS, ...raw.lifecycle?.timeouts }, sweepSeconds: raw.lifecycle?.sweepSeconds ?? 15 },
    bmc: { pollSeconds: raw.bmc?.pollSeconds ?? 60, timeoutSeconds: raw.bmc?.timeoutSeconds ?? 10, solSeconds: raw.bmc?.solSeconds ?? 600 },
    power: { ...DEFAULT_POWER_SETTINGS, ...raw.power },
    console: { enabled: raw.console?.enabled ?? true, port: raw.console?.port ?? 5514, linesPerNode: raw.console?.linesPerNode ?? 500 },
    factory: { url: (raw.factory?.url ?? 'https://factory.talos.dev').replace(/\/+$/, '') },
    upgrade: { parallelism: raw.upgrade?.parallelism ?? 1, returnSeconds: raw.upgrade?.returnSeconds ?? 900 },
    registry: { mirror: raw.registry?.mirror ?? false, offline: raw.registry?.offline ?? false },
    day2: { autoApply: raw.day2?.autoApply ?? 'none' },
    scaleOut: { postgres: raw.store ?? raw.scaleOut?.postgres, dhcpSegment: raw.scaleOut?.dhcpSegment, dhcpPollMs: raw.scaleOut?.dhcpPollMs },
    discovery: { commission: raw.discovery?.commission ?? false },
    httpBoot: { ukiSilenceSeconds: raw.httpBoot?.ukiSilenceSeconds ?? DEFAULT_UKI_SILENCE_SECONDS },
    metrics: { token: raw.metrics?.token },
    dhcpv6: dhcpv6Settings(raw.dhcpv6),
  };
  const problems = [...storeProblems(raw, file ?? '(flags)'), ...crossCheck(settings, file ?? '(flags)')];
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}

/** The pool defaults to <prefix>::1000 .. <prefix>::1fff (4096 addresses), addresses in canonical text. */
function dhcpv6Settings(raw: Partial<Dhcpv6Settings> | undefined): Dhcpv6Settings {
  const prefix = raw?.prefix && parsePrefix(raw.prefix);
  const canon = (a: string) => canonicalIpv6(a) ?? a;
  return {
    enabled: raw?.enabled ?? false,
    prefix: raw?.prefix,
    address: raw?.address && canon(raw.address),
    pool: raw?.pool ? { start: canon(raw.pool.start), end: canon(raw.pool.end) } : prefix ? { start: ipv6Add(prefix.base, 0x1000), end: ipv6Add(prefix.base, 0x1fff) } : undefined,
    dns: (raw?.dns ?? []).map(canon),
    leaseSeconds: raw?.leaseSeconds ?? 3600,
    rapidCommit: raw?.rapidCommit ?? true,
  };
}

function dhcpv6Problems(d: Dhcpv6Settings, http: Settings['http']): string[] {
  if (!d.enabled) return [];
  const errors: string[] = [];
  const prefix = d.prefix ? parsePrefix(d.prefix) : undefined;
  if (!prefix) return ['dhcpv6.enabled needs dhcpv6.prefix (the on-link prefix, e.g. 2001:db8:7::/64)'];
  const inside = (what: string, a: string | undefined) => {
    const b = a ? ipv6Bytes(a) : undefined;
    if (!b) errors.push(`dhcpv6.${what} ${JSON.stringify(a ?? '')} is not an IPv6 address`);
    else if (!inPrefix(b, prefix)) errors.push(`dhcpv6.${what} ${a} is outside dhcpv6.prefix ${d.prefix}`);
  };
  inside('address', d.address);
  inside('pool.start', d.pool?.start);
  inside('pool.end', d.pool?.end);
  for (const a of d.dns) if (!isIpv6(a)) errors.push(`dhcpv6.dns ${a} is not an IPv6 address`);
  // The URLs DHCPv6 hands out name http://[address]:port: the boot plane must listen there.
  const host = splitHostPort(http.listen).host;
  if (host !== '::' && host !== d.address) errors.push(`dhcpv6 hands out http://[${d.address}]/ URLs but http.listen ${http.listen} does not listen on IPv6: use [::]:PORT (both families) or [${d.address}]:PORT`);
  return errors;
}

/**
 * `store` is the setting; `scaleOut.postgres`, its name before, is still
 * read so existing files keep working. Both naming different databases
 * cannot be meant: refuse rather than pick one.
 */
function storeProblems(raw: RawSettings, file: string): PositionedError[] {
  const alias = raw.scaleOut?.postgres;
  if (raw.store === undefined || alias === undefined || alias === raw.store) return [];
  return [{ file, line: 0, col: 0, message: 'store and scaleOut.postgres name different databases; scaleOut.postgres is the older name of store: keep only store' }];
}

function crossCheck(s: Settings, file: string): PositionedError[] {
  const errors: string[] = [...dhcpv6Problems(s.dhcpv6, s.http)];
  if (s.dhcp.mode === 'full' && !s.dhcp.subnet) errors.push('dhcp.mode is full but dhcp.subnet is not set: full mode is authoritative for one subnet and needs it');
  if (s.dhcp.pool && !s.dhcp.subnet) errors.push('dhcp.pool needs dhcp.subnet');
  if (s.registry.offline && !s.registry.mirror) errors.push('registry.offline needs registry.mirror: true (offline nodes can pull only from the appliance)');
  for (const [name, value] of [['http.listen', s.http.listen], ['http.adminListen', s.http.adminListen]] as const) {
    if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):[0-9]{1,5}$/.test(value)) errors.push(`${name} ${JSON.stringify(value)} is not HOST:PORT`);
  }
  const boot = splitHostPort(s.http.listen);
  const admin = splitHostPort(s.http.adminListen);
  if (boot.port !== 0 && boot.port === admin.port && (boot.host === admin.host || [boot.host, admin.host].some((h) => h === '0.0.0.0' || h === '::' || h === ''))) {
    errors.push(`http.adminListen ${s.http.adminListen} overlaps http.listen ${s.http.listen}: the admin plane needs its own port`);
  }
  return errors.map((message) => ({ file, line: 0, col: 0, message }));
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}
