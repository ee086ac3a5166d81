// The failover tests' rig: two appliances (namespaces a and b) and a client
// namespace (perf) on one switch, one PostgreSQL 15 on its unix socket (which
// every namespace sees), each appliance's config written with its own
// interface and address and the shared store, and a capture on the client
// side. Registers its own beforeAll/afterAll; read the members inside tests.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { Netns, uniqueSuffix } from '../helpers/netns.js';
import { startPostgres, type PgRig } from '../helpers/postgres.js';
import { cleanupDir, makeSwitch, plug, tempDir, writeConfig } from '../dhcp/netns/harness.js';
import type { PsqlSession } from '../../src/store/pg/psql-session.js';

export type Side = 'a' | 'b';

export interface TwoAppliances {
  readonly pg: PgRig;
  readonly ns: { a: Netns; b: Netns; perf: Netns };
  /** Interface names inside each namespace. */
  readonly ifname: { a: string; b: string; perf: string };
  /**
   * A temp dir with side's config: its interface and address, `scaleOut.postgres`
   * and the /metrics token, then `settings` (the test's own sections).
   */
  appliance(side: Side, conninfo: string, settings: Record<string, unknown>, nodes: Array<{ name: string; mac: string; ip: string }>): { config: string; dataDir: string; dir: string };
  /** tcpdump on the client's interface into `pcap`, given a second to start. */
  capture(pcap: string, filter: string[]): Promise<ChildProcess>;
}

export interface TwoAppliancesOptions {
  /** Three letters naming this test's namespaces and interfaces. */
  prefix: string;
  /** Each appliance's IPv4 address (a /24 on the switch). */
  address: { a: string; b: string };
  /** The client's IPv4 address (a /24), if it needs one. */
  client?: string;
  mac?: { a: string; b: string };
  metricsToken: string;
  /** Runs on the new namespaces before their interfaces exist (sysctls a new interface copies from `default`). */
  prepare?: (ns: TwoAppliances['ns']) => void;
  /** Runs once the namespaces are plugged in (more addresses). */
  setup?: (ns: TwoAppliances['ns']) => void;
}

/** Resolves once `proc` has exited (at once if it already has). */
export function exited(proc: ChildProcess): Promise<void> {
  return new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
}

/**
 * What the clients were told against PostgreSQL's book (`leases` keyed by mac,
 * `dhcpv6_leases` by client): each client's last address (`lastOf`) is bound
 * to it there and unexpired, and no address is bound twice.
 */
export async function expectBoundInPostgres(s: PsqlSession, table: 'leases' | 'dhcpv6_leases', lastOf: Map<string, string>): Promise<void> {
  const key = table === 'leases' ? 'mac' : 'client';
  const rows = await s.rows<{ client: string; ip: string; state: string; expires_at: number }>(`SELECT ${key} AS client, ip, state, expires_at FROM ${table}`);
  const byClient = new Map(rows.map((r) => [r.client, r]));
  const lost: string[] = [];
  for (const [client, ip] of lastOf) {
    const l = byClient.get(client);
    if (!l || l.ip !== ip || l.state !== 'bound' || l.expires_at <= Date.now()) lost.push(`${client} was given ${ip}, PostgreSQL has ${l ? `${l.ip} ${l.state}` : 'nothing'}`);
  }
  expect(lost).toEqual([]);
  const bound = rows.filter((r) => r.state === 'bound');
  expect(new Set(bound.map((r) => r.ip)).size).toBe(bound.length);
}

export function twoAppliancesOnOneSwitch(opts: TwoAppliancesOptions): TwoAppliances {
  const x = uniqueSuffix();
  const p = opts.prefix;
  const ifname = { a: `${p}a${x}`, b: `${p}b${x}`, perf: `${p}f${x}` };
  const spaces: Netns[] = [];
  const dirs: string[] = [];
  let pg: PgRig | undefined;
  const made = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('twoAppliancesOnOneSwitch: the rig exists only once beforeAll has run');
    return v;
  };
  const rig: TwoAppliances = {
    get pg() { return made(pg); },
    get ns() { return { a: made(spaces[1]), b: made(spaces[2]), perf: made(spaces[3]) }; },
    ifname,
    appliance(side, conninfo, settings, nodes) {
      const dir = tempDir();
      dirs.push(dir);
      const config = writeConfig(dir, {
        interface: ifname[side], serverAddress: opts.address[side], tftp: { enabled: false },
        scaleOut: { postgres: conninfo }, metrics: { token: opts.metricsToken }, ...settings,
      }, nodes);
      return { config, dataDir: join(dir, 'data'), dir };
    },
    async capture(pcap, filter) {
      const cap = rig.ns.perf.spawn('tcpdump', ['-i', ifname.perf, '-n', '-U', '-w', pcap, ...filter]);
      await new Promise((r) => setTimeout(r, 1_000));
      return cap;
    },
  };
  beforeAll(() => {
    pg = startPostgres();
    const sw = makeSwitch(`${p}w${x}`);
    spaces.push(sw, Netns.create(`${p}a${x}`), Netns.create(`${p}b${x}`), Netns.create(`${p}f${x}`));
    opts.prepare?.(rig.ns);
    plug(sw, spaces[1]!, ifname.a, `${p}A${x}`, { cidr: `${opts.address.a}/24`, mac: opts.mac?.a });
    plug(sw, spaces[2]!, ifname.b, `${p}B${x}`, { cidr: `${opts.address.b}/24`, mac: opts.mac?.b });
    plug(sw, spaces[3]!, ifname.perf, `${p}F${x}`, opts.client ? { cidr: `${opts.client}/24` } : {});
    opts.setup?.(rig.ns);
  });
  afterAll(async () => {
    for (const s of spaces) await s.destroy();
    for (const d of dirs) cleanupDir(d);
    pg?.stop();
  });
  return rig;
}
