// Boot storm: N simulated machines (200; 40 with --quick; 1,000 with
// `npm run bench:storm1000`), each a real client process sequence in its own
// namespace (busybox udhcpc, curl TFTP of undionly.kpxe, curl HTTP of its
// iPXE script and the 100 MB kernel + initramfs pair), started within 10 s.
// The same storm runs in one topology against rackboot and against a
// reference chain (dnsmasq DHCP + TFTP, nginx HTTP) serving the same files,
// in three rounds whose order alternates (BENCH_STORM_ROUNDS; one with
// --quick and for 1,000 machines), so the rows are medians as the targets
// are, and neither stack always runs on the host as the other left it.
// Reports completion time against the floor (total bytes over the measured
// veth TCP throughput) and against the reference chain, failures and
// rackboot's DHCP drops (summed over the rounds), and where the time went:
// each phase per machine, the daemon's CPU against the box's, and the seconds
// in which the daemon's event loop stalled (the worst round).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../test/helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, REPO, tempDir, waitFor } from '../test/dhcp/netns/harness.js';
import { daemonEnv, daemonNodeFlags } from './lib/daemon-flags.mjs';
import { median, quick, record } from './lib/results.mjs';
import {
  backlogDrops, describeBreakdown, failureSummary, listenDrops, freshPhasesDir, hostCpuSeconds, hostStealSeconds, namespaceCpuByCommand, threadCpuByName, threadCpuSeconds, phaseBreakdown, PHASES, startReferenceChain, stop, stormMac, wholeBoots, writeMachineScript, writeStormFiles,
} from './lib/storm.js';

const why = missingPrerequisites(['/usr/bin/busybox', '/usr/bin/curl', '/usr/lib/ipxe/undionly.kpxe', '/usr/sbin/dnsmasq', '/usr/sbin/nginx']);
const MACHINES = Number(process.env.BENCH_STORM_MACHINES ?? (quick ? 40 : 200));
/** BENCH_STORM_REFERENCE=0 skips the reference chain (the 1,000-machine entry). */
const WITH_REFERENCE = process.env.BENCH_STORM_REFERENCE !== '0';
const KERNEL_MB = 20;
const INITRD_MB = 80;
const TOKEN = 'bench-admin-token-0123456789';
const VERSION = 'v1.11.5';
const x = uniqueSuffix();
const SERVER = '10.80.0.1';
const SERVER_IF = `rbsp${x}`;

let sw: Netns;
let srv: Netns;
const clients: Netns[] = [];
let dir: string;
let cli: string;
let config: string;
/** Host neighbour-table limits raised for a large storm, restored afterwards. */
const restoreSysctls: [string, string][] = [];

/**
 * The neighbour table counts entries of every namespace against the host's
 * gc_thresh2/3 (512/1024 by default): 1,000 clients plus the server's 1,000
 * entries overflow it ("neighbor table overflow") and ARP fails. Raised only
 * when this storm needs it, and put back in afterAll.
 */
function raiseNeighbourLimits(entries: number): void {
  for (const [name, want] of [['gc_thresh2', entries], ['gc_thresh3', 2 * entries]] as const) {
    const path = `/proc/sys/net/ipv4/neigh/default/${name}`;
    const was = readFileSync(path, 'utf8').trim();
    if (Number(was) >= want) continue;
    restoreSysctls.push([path, was]);
    writeFileSync(path, String(want));
  }
}

function metricValue(name: string): number {
  const body = srv.exec('curl', ['-sfk', '-H', `authorization: Bearer ${TOKEN}`, 'https://127.0.0.1:8443/metrics']);
  return Number(new RegExp(`^rackboot_${name} ([\\d.e+-]+)$`, 'm').exec(body)?.[1] ?? NaN);
}

/** When machine i starts, ms after the storm begins: all within 10 s. */
const startAt = (i: number): number => (i / MACHINES) * 10_000;

/** One storm against whatever serves SERVER now: exit codes, seconds, box CPU, phases. */
async function storm(label: string) {
  // Each machine starts unconfigured, as a powered-on machine does.
  for (let i = 0; i < MACHINES; i++) clients[i]!.exec('ip', ['addr', 'flush', 'dev', `rbm${x}${i}`]);
  const phases = freshPhasesDir(dir, label);
  const hostCpuBefore = hostCpuSeconds();
  const stealBefore = hostStealSeconds();
  const serverCpuBefore = namespaceCpuByCommand(srv.name);
  const listenBefore = listenDrops(srv);
  const backlogBefore = backlogDrops();
  const started = Date.now();
  const codes = await Promise.all(clients.map((ns, i) => new Promise<number>((resolve) => {
    setTimeout(() => {
      const c = spawn('ip', ['netns', 'exec', ns.name, join(dir, 'machine.sh'), `rbm${x}${i}`, stormMac(i), phases], { stdio: 'ignore' });
      c.once('exit', (code) => resolve(code ?? 1));
    }, startAt(i));
  })));
  const seconds = (Date.now() - started) / 1000;
  const dropped = `SYNs dropped by a full accept queue: ${listenDrops(srv) - listenBefore}; packets dropped by full CPU input backlogs (whole host): ${backlogDrops() - backlogBefore}`;
  const serverCpuBy = Object.fromEntries(Object.entries(namespaceCpuByCommand(srv.name)).map(([c, v]) => [c, v - (serverCpuBefore[c] ?? 0)]));
  const serverCpu = Object.values(serverCpuBy).reduce((a, b) => a + b, 0);
  const serverCpuByCommand = Object.entries(serverCpuBy).filter(([, v]) => v >= 0.05).map(([c, v]) => `${c} ${v.toFixed(1)} s`).join(', ');
  return { dropped, codes, seconds, phases, serverCpu, serverCpuByCommand, hostCpu: hostCpuSeconds() - hostCpuBefore, steal: hostStealSeconds() - stealBefore, failures: codes.filter((c) => c !== 0).length, breakdown: phaseBreakdown(phases), failedAt: failureSummary(phases) };
}

/** Throughput of one TCP stream over the same veth path, without HTTP (MB/s). */
async function linkThroughput(): Promise<number> {
  // Node on both ends: busybox nc quits early when its stdin ends.
  const sink = `require('net').createServer((s) => { let n = 0, t0 = 0; s.on('data', (d) => { t0 ||= performance.now(); n += d.length; }); s.on('end', () => { process.stdout.write(n + ' ' + (performance.now() - t0)); process.exit(0); }); }).listen(9000, '${SERVER}')`;
  const source = `const s = require('net').connect(9000, '${SERVER}', () => { const b = Buffer.alloc(1 << 20); let i = 0; const w = () => { while (i < 1000) { i++; if (!s.write(b)) return s.once('drain', w); } s.end(); }; w(); })`;
  const listener = srv.spawn(process.execPath, ['-e', sink]);
  let out = '';
  listener.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise((r) => listener.once('exit', r));
  await new Promise((r) => setTimeout(r, 500));
  clients[0]!.exec('ip', ['addr', 'add', '10.80.255.250/16', 'dev', `rbm${x}0`]);
  clients[0]!.exec(process.execPath, ['-e', source], { timeoutMs: 120_000 });
  await closed;
  const [received = 0, ms = 1] = out.split(' ').map(Number);
  if (received < 1000 * (1 << 20)) throw new Error(`throughput probe received only ${received} bytes`);
  clients[0]!.exec('ip', ['addr', 'flush', 'dev', `rbm${x}0`]);
  return received / (1 << 20) / (ms / 1000);
}

/** Rounds of the pair (rackboot, chain): medians, as the targets are; one for --quick and the 1,000-machine storm. */
const ROUNDS = Number(process.env.BENCH_STORM_ROUNDS ?? (quick || MACHINES > 200 ? 1 : 3));

/** Starts rackboot, runs one storm against it, and stops it: the storm plus the daemon's own counters. */
async function stormOnRackboot(round: number, floor: number, linkMBps: number, load: () => string) {
  let serverLog = '';
  const rackboot = srv.spawn(process.execPath, [...daemonNodeFlags(), cli, 'serve', '--config', config], { cwd: REPO, env: daemonEnv() });
  rackboot.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
  rackboot.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitFor(() => {
    // The admin plane (/metrics) comes up after the boot plane.
    try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/healthz`]).includes('true') && !Number.isNaN(metricValue('process_cpu_seconds_total')); } catch { return false; }
  }, 30_000, () => `rackboot did not start: ${serverLog.slice(-2000)}`);
  const cpuBefore = metricValue('process_cpu_seconds_total');
  const stallsBefore = metricValue('event_loop_stalls_total');
  const loopCpuBefore = threadCpuSeconds(rackboot.pid!);
  const namedBefore = threadCpuByName(rackboot.pid!);
  const s = await storm(`rackboot-${round}`);
  const loopCpu = threadCpuSeconds(rackboot.pid!) - loopCpuBefore;
  const named = threadCpuByName(rackboot.pid!);
  // The addon's threads start with their first transfer, so most are not there before the storm.
  const namedCpu = (name: string) => (named.get(name) ?? 0) - (namedBefore.get(name) ?? 0);
  const daemonCpu = metricValue('process_cpu_seconds_total') - cpuBefore;
  const stalls = metricValue('event_loop_stalls_total') - stallsBefore;
  // /metrics is on the admin plane: HTTPS on the server namespace's loopback (self-signed, so -k).
  const metrics = srv.exec('curl', ['-sfk', '-H', `authorization: Bearer ${TOKEN}`, 'https://127.0.0.1:8443/metrics']);
  const drops = [...metrics.matchAll(/^rackboot_dhcp_drops_\S*\s+(\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  // Lock-step TFTP with a lost or late packet waits out a retransmit timer (1 s here, curl's on the other side).
  const tftp = Object.fromEntries(['retransmissions', 'timeouts', 'duplicate_requests', 'late_duplicate_requests', 'unexpected']
    .map((k) => [k, Number(metrics.match(new RegExp(`^rackboot_tftp_${k}_total\\s+(\\d+)$`, 'm'))?.[1] ?? NaN)]));
  const script = readFileSync(join(s.phases, `${stormMac(0)}.ipxe`), 'utf8');
  await stop(rackboot);
  console.log(`boot storm, rackboot, round ${round + 1}: ${MACHINES} machines in ${s.seconds.toFixed(1)} s; floor ${floor.toFixed(1)} s at ${linkMBps.toFixed(0)} MB/s; ${s.failures} failed; ${drops} DHCP drops`);
  console.log(`  per machine (median / p95 / max ms): ${describeBreakdown(s.breakdown)}`);
  if (s.failures) console.log(`  failed: ${s.failedAt}`);
  console.log(`  ${s.dropped}`);
  console.log(`  TFTP ${Object.entries(tftp).map(([k, v]) => `${k.replaceAll('_', ' ')} ${v}`).join(', ')}`);
  console.log(`  server namespace's processes ${s.serverCpu.toFixed(1)} s of CPU (${s.serverCpuByCommand}; the daemon's own counter: ${daemonCpu.toFixed(1)} s, of which its main thread, the event loop, ${loopCpu.toFixed(1)} s, the sendfile threads (rb-sendfile) ${namedCpu('rb-sendfile').toFixed(1)} s, the TFTP ACK receiver (rb-tftp-acks) ${namedCpu('rb-tftp-acks').toFixed(1)} s, and its other threads, libuv's pool and V8's, the rest)`);
  console.log(`  daemon CPU ${daemonCpu.toFixed(1)} s of ${s.hostCpu.toFixed(1)} s busy CPU on the box (${s.steal.toFixed(1)} s of it stolen by the hypervisor; ${(100 * daemonCpu / s.seconds).toFixed(0)}% of one core over the storm; the rest is the clients, the kernel and whatever else runs); loop stalls over 50 ms: ${stalls} s; load average at the end: ${load()}`);
  return { ...s, daemonCpu, stalls, drops, script };
}

/** Starts the reference chain serving rackboot's script, runs one storm against it, and stops it. */
async function stormOnChain(round: number, script: string, floor: number, load: () => string) {
  const procs = startReferenceChain(srv, { dir, ifName: SERVER_IF, server: SERVER, tftpRoot: join(dir, 'ipxe'), assetsDir: join(dir, 'assets'), script, machines: MACHINES });
  await waitFor(() => {
    try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/ipxe`]) === script; } catch { return false; }
  }, 30_000, () => 'nginx did not start');
  const ref = await storm(`reference-${round}`);
  for (const p of procs) await stop(p);
  console.log(`boot storm, reference chain (dnsmasq DHCP + TFTP, nginx HTTP), round ${round + 1}: ${MACHINES} machines in ${ref.seconds.toFixed(1)} s (${(ref.seconds / floor).toFixed(2)}x floor); ${ref.failures} failed; ${ref.hostCpu.toFixed(1)} s busy CPU on the box (${ref.steal.toFixed(1)} s of it stolen by the hypervisor), ${ref.serverCpu.toFixed(1)} s of it in the server namespace's processes (${ref.serverCpuByCommand}); load average at the end: ${load()}`);
  console.log(`  per machine (median / p95 / max ms): ${describeBreakdown(ref.breakdown)}`);
  if (ref.failures) console.log(`  failed: ${ref.failedAt}`);
  console.log(`  ${ref.dropped}`);
  return ref;
}

describe.skipIf(why)(`boot storm: ${MACHINES} machines`, () => {
  beforeAll(async () => {
    cli = buildCli();
    dir = tempDir();
    chmodSync(dir, 0o755);
    const files = writeStormFiles(dir, { machines: MACHINES, kernelMb: KERNEL_MB, initrdMb: INITRD_MB, server: SERVER, serverIf: SERVER_IF, token: TOKEN, version: VERSION });
    config = files.config;
    writeMachineScript(dir, SERVER, files.kernelPath, files.initrdPath);

    raiseNeighbourLimits(2 * MACHINES + 100); // each client one entry, the server one per client
    sw = makeSwitch(`rbsw${x}`);
    srv = Netns.create(`rbss${x}`);
    plug(sw, srv, SERVER_IF, `rbsP${x}`, { cidr: `${SERVER}/16` });
    for (let i = 0; i < MACHINES; i++) {
      const ns = Netns.create(`rbc${x}${i}`);
      clients.push(ns);
      plug(sw, ns, `rbm${x}${i}`, `rbsc${x}${i}`, { mac: stormMac(i) });
    }
  }, 1_800_000);

  afterAll(async () => {
    for (const ns of [...clients, srv, sw]) await ns?.destroy();
    for (const [path, was] of restoreSysctls) writeFileSync(path, was);
    cleanupDir(dir);
  }, 600_000);

  it('every machine completes; time against the floor and the reference chain', async () => {
    const linkMBps = await linkThroughput();
    // The floor: no machine's bytes can flow before it starts, so it is the
    // largest of (a start time + the bytes of every machine started from then
    // on, over the link's throughput). With 200 machines that is the total
    // bytes over the throughput; with 40 it is the last start plus one machine.
    const perMachineS = (KERNEL_MB + INITRD_MB) / linkMBps;
    const floor = Math.max(...Array.from({ length: MACHINES }, (_, i) => startAt(i) / 1000 + (MACHINES - i) * perMachineS));
    const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

    const ours: Awaited<ReturnType<typeof stormOnRackboot>>[] = [];
    const refs: Awaited<ReturnType<typeof storm>>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Odd rounds run the chain first (on the script rackboot gave in round 0),
      // so neither stack always meets the host's warm or cold state.
      const chainFirst = WITH_REFERENCE && round % 2 === 1;
      if (chainFirst) refs.push(await stormOnChain(round, ours[0]!.script, floor, load));
      ours.push(await stormOnRackboot(round, floor, linkMBps, load));
      if (WITH_REFERENCE && !chainFirst) refs.push(await stormOnChain(round, ours[0]!.script, floor, load));
    }

    const seconds = median(ours.map((o) => o.seconds));
    const refSeconds = refs.length ? median(refs.map((r) => r.seconds)) : undefined;
    const breakdown = phaseBreakdown(...ours.map((o) => o.phases));
    const refBreakdown = refs.length ? phaseBreakdown(...refs.map((r) => r.phases)) : undefined;
    const failures = ours.reduce((a, o) => a + o.failures, 0);
    const drops = ours.reduce((a, o) => a + o.drops, 0);
    const daemonCpu = median(ours.map((o) => o.daemonCpu));
    const stalls = Math.max(...ours.map((o) => o.stalls));
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)} s`;
    if (ROUNDS > 1) {
      console.log(`boot storm, ${ROUNDS} rounds: rackboot median ${seconds.toFixed(1)} s (${range(ours.map((o) => o.seconds))})${refSeconds === undefined ? '' : `, reference chain median ${refSeconds.toFixed(1)} s (${range(refs.map((r) => r.seconds))}), rackboot / chain ${(seconds / refSeconds).toFixed(2)}x`}`);
      console.log(`  per machine over all rounds, rackboot (median / p95 / max ms): ${describeBreakdown(breakdown)}`);
      if (refBreakdown) console.log(`  per machine over all rounds, chain (median / p95 / max ms): ${describeBreakdown(refBreakdown)}`);
    }
    // The storm ends when its last machine does, and that machine starts at a
    // fixed time: once the link keeps up, the storm rows compare one
    // machine's boot. These two rows say so in numbers: every machine's
    // whole boot (pooled over the rounds) and the last machine's.
    const boots = (runs: Array<{ phases: string }>) => median(runs.flatMap((r) => wholeBoots(r.phases)));
    const ourBoot = boots(ours);
    const refBoot = refs.length ? boots(refs) : undefined;
    const lastMac = stormMac(MACHINES - 1);
    const lastBoots = (runs: Array<{ phases: string }>) => runs.map((r) => wholeBoots(r.phases, lastMac)[0] ?? NaN);
    const ourLast = lastBoots(ours);
    const refLast = refs.length ? lastBoots(refs) : undefined;
    console.log(`  whole boot per machine, median over all rounds: rackboot ${(ourBoot * 1000).toFixed(1)} ms${refBoot === undefined ? '' : `, chain ${(refBoot * 1000).toFixed(1)} ms`}; the last machine's (started at ${(startAt(MACHINES - 1) / 1000).toFixed(2)} s), per round: rackboot ${ourLast.map((v) => (v * 1000).toFixed(1)).join(', ')} ms${refLast ? `, chain ${refLast.map((v) => (v * 1000).toFixed(1)).join(', ')} ms` : ''}`);

    const refName = 'dnsmasq+nginx';
    const ms = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
    for (const p of PHASES) {
      record({ name: `boot storm ${MACHINES}: ${p} per machine (median)`, unit: 'ms', ours: ms(breakdown[p][0])!, better: 'lower', reference: ms(refBreakdown?.[p][0]), referenceName: refName });
    }
    record({ name: `boot storm ${MACHINES}: whole boot per machine (median)`, unit: 'ms', ours: ourBoot * 1000, better: 'lower', reference: ms(refBoot), referenceName: refName });
    record({
      name: `boot storm ${MACHINES}: the last machine's whole boot`, unit: 'ms', ours: median(ourLast) * 1000, better: 'lower',
      reference: refLast && median(refLast) * 1000, referenceName: refName, runRatios: refLast && ourLast.map((v, i) => v / refLast[i]!),
    });
    record({ name: `boot storm ${MACHINES}: daemon CPU`, unit: 's', ours: daemonCpu, better: 'lower' });
    record({ name: `boot storm ${MACHINES}: busy CPU on the box`, unit: 's', ours: median(ours.map((o) => o.hostCpu)), better: 'lower', reference: refs.length ? median(refs.map((r) => r.hostCpu)) : undefined, referenceName: refName });
    record({ name: `boot storm ${MACHINES}: server processes' CPU`, unit: 's', ours: median(ours.map((o) => o.serverCpu)), better: 'lower', reference: refs.length ? median(refs.map((r) => r.serverCpu)) : undefined, referenceName: refName });
    record({ name: `boot storm ${MACHINES}: seconds with a loop stall over 50 ms`, unit: 's', ours: stalls, better: 'lower' });
    record({ name: `boot storm ${MACHINES} machines`, unit: 's', ours: seconds, reference: floor, referenceName: 'floor', better: 'lower', targetRatio: 1.5, runRatios: ours.map((o) => o.seconds / floor) });
    if (refSeconds !== undefined) {
      record({ name: `boot storm ${MACHINES} machines vs reference chain`, unit: 's', ours: seconds, reference: refSeconds, referenceName: refName, better: 'lower', targetRatio: 1, runRatios: ours.map((o, i) => o.seconds / refs[i]!.seconds) });
      record({ name: `boot storm reference chain failures (${MACHINES})`, unit: 'machines', ours: refs.reduce((a, r) => a + r.failures, 0), better: 'lower' });
    }
    record({ name: `boot storm failures (${MACHINES})`, unit: 'machines', ours: failures, better: 'lower', absolute: 0 });
    record({ name: `boot storm DHCP drops (${MACHINES})`, unit: 'packets', ours: drops, better: 'lower', absolute: 0 });
    for (const o of ours) expect(o.codes).toHaveLength(MACHINES);
  }, 3_600_000);
});
