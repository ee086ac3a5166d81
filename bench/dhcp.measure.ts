// DHCP: perfdhcp DORA exchanges per second at zero drops, and p99 latency,
// against rackboot (full mode, in both dhcp.leaseDurability classes: leases
// fsynced before each ACK, and ACKed once committed), dnsmasq and
// kea-dhcp4, one at a time in the same topology: a server namespace and a
// perfdhcp namespace on one bridge. perfdhcp talks as a relay agent on the
// server's subnet (giaddr = its own address), which all three serve. Also
// rackboot with its store in PostgreSQL, beside the SQLite rows (pg-ops).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { missingPrerequisites, Netns, uniqueSuffix } from '../test/helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, perfdhcpCounts, plug, Rackboot, tempDir, writeConfig } from '../test/dhcp/netns/harness.js';
import { daemonEnv, daemonNodeFlags } from './lib/daemon-flags.mjs';
import { median, quick, record } from './lib/results.mjs';
import { startPostgres } from '../test/helpers/postgres.js';
import { syncLatency } from './lib/disk-sync.js';

const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/sbin/dnsmasq', '/usr/sbin/kea-dhcp4']);
let x = uniqueSuffix();
let SRV_IF = '';
let CLI_IF = '';
// Up to 2,400/s: kea-dhcp4 reached the old top rung (1,600) in the quiet run, and so did rackboot with leaseDurability process
// on the loaded machine, so a 1.00x there said nothing about which is faster.
const RATES = quick ? [100, 200, 400] : [100, 200, 400, 600, 800, 1200, 1600, 2000, 2400];
const SECONDS = quick ? 4 : 8;
/**
 * Each server first serves the lowest rate this long, not counted in the ladder:
 * the latency rows are about a server that has been serving. A freshly started
 * daemon's p99 fell for its first ~24 s of traffic whatever the rate (8 s rungs
 * at 200/s from a start: 3.3, 2.4, 2.0, 1.7, 1.7 ms; bench/HISTORY.md, round 20),
 * so without this the 200/s row measured its seconds 8-16. What the first
 * seconds cost is its own row.
 */
const WARM_SECONDS = quick ? 4 : 24;
// perfdhcp counts a request as dropped after 1 s (-d, its default), but at
// the end of the run it stops listening at once (-W 0, its default), so the
// replies still in flight then counted as drops too: a server whose replies
// take a few ms more (an fsync) lost rungs to that. Every server now gets
// the same 1 s after the last request.
const DROP_TIME_US = 1_000_000;
/**
 * The p99 target is read at dnsmasq's zero-drop rate. dnsmasq climbs its
 * ladder first, and every server after it runs the rung at that rate this
 * many times (the floor too); the rung counts as the median of them: one 8 s
 * rung at 200/s is 3,200 exchanges, so its p99 rests on its 32 slowest, and
 * the same code's `process` row moved 1.9-2.4 ms across four single rungs
 * (round 33). dnsmasq itself repeats the 200/s rung, its rate in most runs;
 * on round 34's machine it sometimes reached 400/s, and while rackboot ran
 * before it the target rows were then read from one rung (round 35).
 */
const P99_RATE = 200;
/** Issue 19's p99 target at that rate. */
const P99_TARGET_MS = 2;
const P99_RUNGS = quick ? 1 : 3;

interface Run {
  rate: number; achieved: number; sent: number[]; received: number[]; drops: number[]; p99: number | null; p99ByKind: Record<string, number>;
  /** Each repeat's p99, where the rung was run more than once (P99_RUNGS). */
  p99s?: Array<number | null>;
}

let sw: Netns, srv: Netns, cli: Netns;
let dir: string;

/**
 * Runs perfdhcp without blocking the event loop: the servers' log pipes must
 * keep draining while it runs, or a chatty server stalls on a full pipe.
 * perfdhcp exits non-zero when anything was dropped; its report is still on stdout.
 */
async function perfdhcp(rate: number, seconds = SECONDS): Promise<Run> {
  const p = spawn('ip', ['netns', 'exec', cli.name, 'perfdhcp', '-4', '-l', CLI_IF, '-r', String(rate), '-R', '1000000', '-p', String(seconds), '-W', String(DROP_TIME_US), '-x', 't'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.resume();
  await new Promise<void>((r) => p.once('exit', () => r()));
  // -x t prints "sent / received: S.us / S.us" for every successful
  // DISCOVER-OFFER and REQUEST-ACK exchange, each kind under its own
  // "Statistics for: KIND" heading: p99 is over both kinds, and per kind.
  const byKind: Record<string, number[]> = {};
  let kind = 'all';
  for (const line of out.split('\n')) {
    const heading = /(?:Statistics for|Timestamps for packets): ([A-Z-]+)/.exec(line);
    if (heading) kind = heading[1]!;
    const m = /sent \/ received: ([\d.]+) \/ ([\d.]+)/.exec(line);
    if (m) (byKind[kind] ??= []).push((Number(m[2]) - Number(m[1])) * 1000);
  }
  const counts = perfdhcpCounts(out);
  const p99Of = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;
  const delays = Object.values(byKind).flat();
  const p99ByKind = Object.fromEntries(Object.entries(byKind).filter(([, xs]) => xs.length > 0).map(([k, xs]) => [k, p99Of(xs)]));
  return {
    // perfdhcp's own "Rate" divides by the run plus its exit wait (-W): the DISCOVERs sent over the run itself say whether it kept the rate.
    rate, achieved: (counts.sent[0] ?? 0) / seconds, ...counts, p99: delays.length ? p99Of(delays) : null, p99ByKind,
  };
}

/**
 * `times` rungs at `rate`, as one: the median p99 (each kind's too), the
 * worst drops of any repeat and the lowest rate reached, so a repeat that
 * dropped fails the rung; the counts sent and received are the first's.
 */
async function repeatedRung(rate: number, times: number): Promise<Run> {
  const rungs: Run[] = [];
  for (let k = 0; k < times; k++) rungs.push(await perfdhcp(rate));
  if (rungs.length === 1) return rungs[0]!;
  const p99s = rungs.map((r) => r.p99);
  const kinds = Object.keys(rungs[0]!.p99ByKind).filter((k) => rungs.every((r) => r.p99ByKind[k] !== undefined));
  return {
    ...rungs[0]!,
    achieved: Math.min(...rungs.map((r) => r.achieved)),
    drops: rungs[0]!.drops.map((_, i) => Math.max(...rungs.map((r) => r.drops[i] ?? Infinity))),
    p99: p99s.every((p) => p !== null) ? median(p99s) : null,
    p99ByKind: Object.fromEntries(kinds.map((k) => [k, median(rungs.map((r) => r.p99ByKind[k]!))])),
    p99s,
  };
}

const rungsText = (r: Run) => (r.p99s ? ` [rungs ${r.p99s.map((p) => p?.toFixed(2) ?? '-').join(', ')}]` : '');

/** Each server's first WARM_SECONDS of traffic, by its ladder name. */
const warmups: Record<string, Run> = {};

/**
 * The highest rate with zero drops in both exchanges (and the rate actually
 * reached), after the warm-up. The rung at `p99Rate` is run P99_RUNGS times.
 */
async function ladder(name: string, p99Rate: number): Promise<{ best: Run | undefined; runs: Run[] }> {
  const runs: Run[] = [];
  let best: Run | undefined;
  const warm = warmups[name] = await perfdhcp(RATES[0]!, WARM_SECONDS);
  console.log(`${name} warm-up, ${WARM_SECONDS} s @${RATES[0]}/s (not in the ladder): drops ${warm.drops.join('/')}, p99 ${warm.p99?.toFixed(1) ?? '-'} ms`);
  for (const rate of RATES) {
    const r = await repeatedRung(rate, rate === p99Rate ? P99_RUNGS : 1);
    runs.push(r);
    const kinds = Object.entries(r.p99ByKind).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    console.log(`${name} @${rate}/s: achieved ${r.achieved.toFixed(1)}/s, sent ${r.sent.join('/')}, drops ${r.drops.join('/')}, p99 ${r.p99?.toFixed(1) ?? "-"} ms (${kinds})${rungsText(r)}`);
    const clean = r.drops.length === 2 && r.drops.every((d) => d === 0) && r.achieved >= rate * 0.95;
    if (!clean) break;
    best = r;
  }
  return { best, runs };
}

/** A reference server whose log pipe fills up blocks on its next write: keep reading. */
function drain(p: ChildProcess): void {
  p.stdout?.resume();
  p.stderr?.resume();
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise<void>((r) => { const t = setTimeout(() => (p.kill('SIGKILL'), r()), 3000); p.once('exit', () => (clearTimeout(t), r())); });
}

describe.skipIf(why)('DHCP DORA rate: rackboot vs dnsmasq vs kea-dhcp4', () => {
  const results: Record<string, Run | undefined> = {};
  /** Every rung each server climbed, for latency at a common rate. */
  const ladders: Record<string, Run[]> = {};
  /** dnsmasq's zero-drop rate once it has climbed (P99_RATE if it dropped at every rung). */
  const p99Rate = () => results.dnsmasq?.rate ?? P99_RATE;

  // A fresh, identical topology for each server, so nothing one leaves behind
  // (neighbour entries, sockets in teardown) touches the next one's numbers.
  beforeEach(() => {
    x = uniqueSuffix();
    SRV_IF = `rbdp${x}`;
    CLI_IF = `rbdf${x}`;
    dir = tempDir();
    sw = makeSwitch(`rbdw${x}`);
    srv = Netns.create(`rbds${x}`);
    cli = Netns.create(`rbdf${x}`);
    plug(sw, srv, SRV_IF, `rbdP${x}`, { cidr: '10.77.0.1/16' });
    plug(sw, cli, CLI_IF, `rbdF${x}`, { cidr: '10.77.0.5/16' });
  });

  afterEach(async () => {
    for (const n of [cli, srv, sw]) await n?.destroy();
    cleanupDir(dir);
  });

  // leaseDurability power (the default) ACKs after an fdatasync; process
  // after the commit alone, the class of kea's memfile without fsync.
  const rackboot = (durability: 'power' | 'process', key: string, extra: Record<string, unknown> = {}) => async () => {
    const data = join(dir, 'rb');
    const config = writeConfig(dir, {
      interface: SRV_IF, serverAddress: '10.77.0.1', dataDir: data, logLevel: 'info',
      dhcp: { mode: 'full', subnet: '10.77.0.0/16', pool: { start: '10.77.1.0', end: '10.77.254.254' }, leaseSeconds: 3600, leaseDurability: durability },
      http: { listen: '10.77.0.1:8080', publicUrl: 'http://10.77.0.1:8080' }, ...extra,
    }, [{ name: 'cp-1', mac: '52:54:00:12:34:01', ip: '10.77.0.11' }]);
    const rb = await Rackboot.start(srv, buildCli(), config, data, { nodeFlags: daemonNodeFlags(), env: daemonEnv() });
    const climbed = await ladder(key, p99Rate());
    results[key] = climbed.best;
    ladders[key] = climbed.runs;
    await stop(rb.proc);
  };
  // The machine's share of the `power` rows: each of its ACKs waits for one fdatasync of the WAL, and at 200/s
  // the disk has been idle 5 ms before it (bench/lib/disk-sync.ts). On the filesystem the servers write to.
  it('this disk: an fdatasync of a lease-sized commit, back to back and 5 ms apart', () => {
    const together = syncLatency(dir, { gapMs: 0 });
    const spaced = syncLatency(dir, { gapMs: 5 });
    console.log(`disk fdatasync of a 4-page commit: back to back p50 ${together.p50.toFixed(3)} p99 ${together.p99.toFixed(3)} ms; 5 ms apart p50 ${spaced.p50.toFixed(3)} p99 ${spaced.p99.toFixed(3)} ms`);
    for (const q of ['p50', 'p99'] as const) {
      record({ name: `the machine's disk: fdatasync of a 4-page WAL commit 5 ms after the last (one per exchange at 200/s), ${q}`, unit: 'ms', ours: spaced[q], better: 'lower', reference: together[q], referenceName: 'back to back' });
    }
    expect(spaced.count).toBeGreaterThan(0);
  });
  // First: its zero-drop rate is where the p99 target is read, so the servers after it repeat that rung.
  it('dnsmasq', async () => {
    const p = srv.spawn('dnsmasq', ['--no-daemon', '--port=0', `--interface=${SRV_IF}`, '--bind-interfaces', '--no-ping', '--dhcp-authoritative',
      '--dhcp-range=10.77.1.0,10.77.254.254,255.255.0.0,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, '--dhcp-lease-max=1000000',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--conf-file=/dev/null', '--log-facility=-', '--quiet-dhcp']);
    drain(p);
    await new Promise((r) => setTimeout(r, 1500));
    expect(p.exitCode).toBe(null);
    results.dnsmasq = (await ladder('dnsmasq', P99_RATE)).best;
    await stop(p);
  }, 15 * 60_000);

  it('rackboot (full mode, leases durable against power loss)', rackboot('power', 'rackboot'), 15 * 60_000);
  it('rackboot (full mode, leaseDurability process)', rackboot('process', 'rackboot-process'), 15 * 60_000);
  // pg-ops (issue 21): the same daemon with its nodes and lease book in PostgreSQL (store: postgres://…, a
  // throwaway server on a private socket), side by side with SQLite's row above: every exchange is database
  // round trips on the loop, so this is the cost of several appliances, not a target.
  it('rackboot on PostgreSQL (full mode, store: postgres://…)', async () => {
    const pg = startPostgres();
    try {
      await rackboot('power', 'rackboot-pg', { store: pg.createDatabase('bench_dhcp') })();
      const ours = results['rackboot-pg'];
      record({ name: 'DHCP DORA/s at zero drops on PostgreSQL vs SQLite', unit: 'DORA/s', ours: ours?.rate ?? 0, better: 'higher', reference: results.rackboot?.rate, referenceName: 'rackboot on SQLite' });
      if (ours?.p99 != null) record({ name: 'DHCP p99 exchange latency on PostgreSQL vs SQLite', unit: 'ms', ours: ours.p99, better: 'lower', reference: results.rackboot?.p99 ?? undefined, referenceName: 'rackboot on SQLite' });
    } finally {
      pg.stop();
    }
  }, 15 * 60_000);

  it('kea-dhcp4', async () => {
    const conf = join(dir, 'kea.json');
    writeFileSync(conf, JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: [SRV_IF], 'dhcp-socket-type': 'raw' },
        'lease-database': { type: 'memfile', persist: true, name: join(dir, 'kea-leases.csv'), 'lfc-interval': 0 },
        'valid-lifetime': 3600,
        subnet4: [{ id: 1, subnet: '10.77.0.0/16', pools: [{ pool: '10.77.1.0 - 10.77.254.254' }] }],
        loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
      },
    }));
    const p = srv.spawn('kea-dhcp4', ['-c', conf], { env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
    drain(p);
    await new Promise((r) => setTimeout(r, 2000));
    expect(p.exitCode).toBe(null);
    const climbed = await ladder('kea-dhcp4', p99Rate());
    results.kea = climbed.best;
    ladders.kea = climbed.runs;
    await stop(p);
  }, 15 * 60_000);

  // Node's floor (bench/lib/dhcp-floor.mjs): the same warm-up, then only the rung at dnsmasq's rate, where the p99 target is.
  it("bare node:dgram responder (Node's floor)", async () => {
    const p = srv.spawn(process.execPath, [...daemonNodeFlags(), fileURLToPath(new URL('./lib/dhcp-floor.mjs', import.meta.url)), '10.77.0.1']);
    const listening = new Promise<void>((resolve) => p.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
    p.stderr!.resume();
    await listening;
    await perfdhcp(RATES[0]!, WARM_SECONDS);
    const rung = await repeatedRung(p99Rate(), P99_RUNGS);
    console.log(`Node's floor @${rung.rate}/s: drops ${rung.drops.join('/')}, p99 ${rung.p99?.toFixed(2) ?? '-'} ms (${Object.entries(rung.p99ByKind).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')})${rungsText(rung)}`);
    // A floor that drops is no floor: the responder or the topology is broken.
    expect(rung.drops).toEqual([0, 0]);
    ladders.floor = [rung];
    await stop(p);
  }, 15 * 60_000);

  afterAll(() => {
    // Issue 19's latency target: p99 at dnsmasq's zero-drop rate, durable leases included.
    const atRate = results.dnsmasq?.rate;
    // What the runtime alone costs at that rate, against a server in C: the part of rackboot's p99 our code can remove is above this.
    const floor = ladders.floor?.find((r) => r.rate === atRate);
    const kea = ladders.kea?.find((r) => r.rate === atRate);
    if (floor?.p99 != null) {
      record({ name: `DHCP p99 exchange latency at the dnsmasq rate (${atRate}/s), bare node:dgram responder (Node's floor)`, unit: 'ms', ours: floor.p99, better: 'lower', reference: kea?.p99 ?? undefined, referenceName: 'kea-dhcp4' });
      for (const [kind, p99] of Object.entries(floor.p99ByKind)) {
        record({ name: `DHCP p99 ${kind} at the dnsmasq rate (${atRate}/s), Node's floor`, unit: 'ms', ours: p99, better: 'lower', reference: kea?.p99ByKind[kind], referenceName: 'kea-dhcp4' });
      }
    }
    for (const [key, mode] of [['rackboot', ''], ['rackboot-process', ', leaseDurability process']] as const) {
      const ours = results[key];
      const same = ladders[key]?.find((r) => r.rate === atRate && r.drops.every((d) => d === 0));
      const warm = warmups[key];
      if (warm?.p99 != null) {
        record({ name: `DHCP p99 exchange latency in the first ${WARM_SECONDS} s after start (${RATES[0]}/s${mode})`, unit: 'ms', ours: warm.p99, better: 'lower', reference: warmups.dnsmasq?.p99 ?? undefined, referenceName: 'dnsmasq' });
      }
      if (atRate !== undefined && same?.p99 != null) {
        record({ name: `DHCP p99 exchange latency at the dnsmasq rate (${atRate}/s${mode})`, unit: 'ms', ours: same.p99, better: 'lower', reference: results.dnsmasq?.p99 ?? undefined, referenceName: 'dnsmasq', absolute: P99_TARGET_MS });
        for (const [kind, p99] of Object.entries(same.p99ByKind)) {
          record({ name: `DHCP p99 ${kind} at the dnsmasq rate (${atRate}/s${mode})`, unit: 'ms', ours: p99, better: 'lower', reference: results.dnsmasq?.p99ByKind[kind], referenceName: 'dnsmasq' });
        }
        // How many of the repeats held on their own: the median can hold while one rung in three misses.
        if (same.p99s) {
          const met = same.p99s.filter((p) => p !== null && p <= P99_TARGET_MS).length;
          record({ name: `DHCP p99 exchange latency at the dnsmasq rate (${atRate}/s${mode}): rungs of ${same.p99s.length} at or under ${P99_TARGET_MS} ms`, unit: 'rungs', ours: met, better: 'higher' });
        }
      }
      for (const [ref, name] of [['dnsmasq', 'dnsmasq'], ['kea', 'kea-dhcp4']] as const) {
        const theirs = results[ref];
        record({ name: `DHCP DORA/s at zero drops vs ${name}${mode}`, unit: 'DORA/s', ours: ours?.rate ?? 0, better: 'higher', reference: theirs?.rate, referenceName: name, targetRatio: 1 /* issue 19: at least kea-dhcp4's rate, so at least dnsmasq's too */ });
        if (ours?.p99 != null && theirs?.p99 != null) {
          record({ name: `DHCP p99 exchange latency vs ${name}${mode}`, unit: 'ms', ours: ours.p99, better: 'lower', reference: theirs.p99, referenceName: name });
        }
      }
      if (floor?.p99 != null && same?.p99 != null) {
        record({ name: `DHCP p99 exchange latency at the dnsmasq rate (${atRate}/s${mode}) vs Node's floor`, unit: 'ms', ours: same.p99, better: 'lower', reference: floor.p99, referenceName: 'bare node:dgram' });
      }
      console.log(`DORA/s at zero drops: ${key} ${ours?.rate ?? 0}, dnsmasq ${results.dnsmasq?.rate ?? 0}, kea ${results.kea?.rate ?? 0}; ` +
        `ratios ${((ours?.rate ?? 0) / (results.dnsmasq?.rate || 1)).toFixed(2)}x dnsmasq, ${((ours?.rate ?? 0) / (results.kea?.rate || 1)).toFixed(2)}x kea (ladder top ${RATES.at(-1)}/s)`);
    }
  });
});
