// Boot storm: N simulated machines (200; 40 with --quick), each a real
// client process sequence in its own namespace (busybox udhcpc, curl TFTP of
// undionly.kpxe, curl HTTP of its iPXE script and the 100 MB kernel +
// initramfs pair), started within 10 s. Reports completion time against the
// floor (total bytes over the measured veth TCP throughput), failures and
// rackboot's DHCP drops, and where the time went: each phase per machine
// (DHCP, TFTP, script, kernel, initramfs), the daemon's CPU against the
// box's, and the seconds in which the daemon's event loop stalled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../test/helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, REPO, tempDir, waitFor } from '../test/dhcp/netns/harness.js';
import { schematicId } from '../src/factory/schematic.js';
import { daemonNodeFlags } from './lib/daemon-flags.mjs';
import { quick, record } from './lib/results.mjs';

const why = missingPrerequisites(['/usr/bin/busybox', '/usr/bin/curl', '/usr/lib/ipxe/undionly.kpxe']);
const MACHINES = Number(process.env.BENCH_STORM_MACHINES ?? (quick ? 40 : 200));
const KERNEL_MB = 20;
const INITRD_MB = 80;
const TOKEN = 'bench-admin-token-0123456789';
const x = uniqueSuffix();
const SERVER = '10.80.0.1';
const mac = (i: number) => `52:54:00:80:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

let sw: Netns;
let srv: Netns;
const clients: Netns[] = [];
let dir: string;
let serverLog = '';

const PHASES = ['dhcp', 'tftp', 'script', 'kernel', 'initramfs'] as const;

function metricValue(name: string): number {
  const body = srv.exec('curl', ['-sfk', '-H', `authorization: Bearer ${TOKEN}`, 'https://127.0.0.1:8443/metrics']);
  return Number(new RegExp(`^rackboot_${name} ([\\d.e+-]+)$`, 'm').exec(body)?.[1] ?? NaN);
}

/** Busy CPU seconds of the whole box (all cores), from /proc/stat. */
function hostCpuSeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

/** Per phase: [median, p95, max] seconds over the machines that finished it. */
function phaseBreakdown(): Record<(typeof PHASES)[number], number[]> {
  const per = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<(typeof PHASES)[number], number[]>;
  for (const f of readdirSync(join(dir, 'phases'))) {
    const marks = readFileSync(join(dir, 'phases', f), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]);
    for (let i = 1; i < marks.length; i++) {
      const phase = marks[i]![0] as (typeof PHASES)[number];
      per[phase]?.push(Number(BigInt(marks[i]![1]) - BigInt(marks[i - 1]![1])) / 1e9);
    }
  }
  const q = (xs: number[], f: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * f))] ?? NaN;
  return Object.fromEntries(PHASES.map((p) => {
    const xs = per[p].sort((a, b) => a - b);
    return [p, [q(xs, 0.5), q(xs, 0.95), xs.at(-1) ?? NaN]];
  })) as Record<(typeof PHASES)[number], number[]>;
}

describe.skipIf(why)(`boot storm: ${MACHINES} machines`, () => {
  beforeAll(async () => {
    const cli = buildCli();
    dir = tempDir();
    chmodSync(dir, 0o755);
    const version = 'v1.11.5';
    const assets = join(dir, 'assets', schematicId({ extensions: [], extraKernelArgs: [] }), version);
    mkdirSync(assets, { recursive: true });
    const mb = Buffer.alloc(1 << 20, 0x5a);
    writeFileSync(join(assets, 'kernel-amd64'), Buffer.concat(Array.from({ length: KERNEL_MB }, () => mb)));
    writeFileSync(join(assets, 'initramfs-amd64.xz'), Buffer.concat(Array.from({ length: INITRD_MB }, () => mb)));
    mkdirSync(join(dir, 'ipxe'));
    copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(dir, 'ipxe', 'undionly.kpxe'));
    const nodes = Array.from({ length: MACHINES }, (_, i) => ({
      name: `n-${i}`, mac: mac(i), role: i < 3 ? 'controlplane' : 'worker', ip: `10.80.0.${11 + i}`, installDisk: '/dev/sda',
    }));
    writeFileSync(join(dir, 'cluster.yaml'), JSON.stringify({ cluster: { name: 'storm', controlPlaneEndpoint: 'https://10.80.0.10:6443', talosVersion: version }, nodes }));
    writeFileSync(join(dir, 'rackboot.yaml'), JSON.stringify({
      interface: `rbsp${x}`, serverAddress: SERVER, dataDir: join(dir, 'data'), inventory: join(dir, 'cluster.yaml'), assetsDir: join(dir, 'assets'),
      logLevel: 'warn', adminToken: TOKEN, dhcp: { mode: 'full', subnet: '10.80.0.0/24' },
      tftp: { root: join(dir, 'ipxe') }, http: { listen: `${SERVER}:8080` }, console: { enabled: false },
    }));
    // udhcpc only reports a lease; this script puts it on the interface.
    writeFileSync(join(dir, 'udhcpc.sh'), '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n', { mode: 0o755 });
    const schematic = schematicId({ extensions: [], extraKernelArgs: [] });
    // Each step's end time (ns since the epoch) goes to phases/<mac>, one line per step.
    mkdirSync(join(dir, 'phases'));
    writeFileSync(join(dir, 'machine.sh'), [
      '#!/bin/sh', 'set -e', 'if="$1"; mac="$2"', `log=${dir}/phases/$mac`, 'date +"start %s%N" > "$log"',
      `busybox udhcpc -i "$if" -n -q -f -t 10 -T 2 -s ${dir}/udhcpc.sh >/dev/null 2>&1`, 'date +"dhcp %s%N" >> "$log"',
      `curl -sfS -o /dev/null tftp://${SERVER}/undionly.kpxe`, 'date +"tftp %s%N" >> "$log"',
      `curl -sfS -o /dev/null "http://${SERVER}:8080/ipxe?mac=$mac&arch=i386"`, 'date +"script %s%N" >> "$log"',
      `curl -sfS -o /dev/null http://${SERVER}:8080/assets/${schematic}/${version}/kernel-amd64`, 'date +"kernel %s%N" >> "$log"',
      `curl -sfS -o /dev/null http://${SERVER}:8080/assets/${schematic}/${version}/initramfs-amd64.xz`, 'date +"initramfs %s%N" >> "$log"',
    ].join('\n'), { mode: 0o755 });

    sw = makeSwitch(`rbsw${x}`);
    srv = Netns.create(`rbss${x}`);
    plug(sw, srv, `rbsp${x}`, `rbsP${x}`, { cidr: `${SERVER}/24` });
    for (let i = 0; i < MACHINES; i++) {
      const ns = Netns.create(`rbc${x}${i}`);
      clients.push(ns);
      plug(sw, ns, `rbm${x}${i}`, `rbsc${x}${i}`, { mac: mac(i) });
    }
    const p = srv.spawn(process.execPath, [...daemonNodeFlags(), cli, 'serve', '--config', join(dir, 'rackboot.yaml')], { cwd: REPO });
    p.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
    await waitFor(() => {
      try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/healthz`]).includes('true'); } catch { return false; }
    }, 30_000, () => `rackboot did not start: ${serverLog.slice(-2000)}`);
  }, 600_000);

  afterAll(async () => {
    for (const ns of [...clients, srv, sw]) await ns?.destroy();
    cleanupDir(dir);
  });

  it('every machine completes; time against the floor', async () => {
    // The floor's throughput: one TCP stream over the same veth path, without HTTP.
    // Node on both ends: busybox nc quits early when its stdin ends.
    const sink = `require('net').createServer((s) => { let n = 0, t0 = 0; s.on('data', (d) => { t0 ||= performance.now(); n += d.length; }); s.on('end', () => { process.stdout.write(n + ' ' + (performance.now() - t0)); process.exit(0); }); }).listen(9000, '${SERVER}')`;
    const source = `const s = require('net').connect(9000, '${SERVER}', () => { const b = Buffer.alloc(1 << 20); let i = 0; const w = () => { while (i < 1000) { i++; if (!s.write(b)) return s.once('drain', w); } s.end(); }; w(); })`;
    const listener = srv.spawn(process.execPath, ['-e', sink]);
    let out = '';
    listener.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise((r) => listener.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    clients[0]!.exec('ip', ['addr', 'add', '10.80.0.250/24', 'dev', `rbm${x}0`]);
    clients[0]!.exec(process.execPath, ['-e', source], { timeoutMs: 120_000 });
    await closed;
    const [received = 0, ms = 1] = out.split(' ').map(Number);
    const linkMBps = received / (1 << 20) / (ms / 1000);
    if (received < 1000 * (1 << 20)) throw new Error(`throughput probe received only ${received} bytes`);
    clients[0]!.exec('ip', ['addr', 'flush', 'dev', `rbm${x}0`]);

    const perMachineMB = KERNEL_MB + INITRD_MB;
    const cpuBefore = metricValue('process_cpu_seconds_total');
    const stallsBefore = metricValue('event_loop_stalls_total');
    const hostCpuBefore = hostCpuSeconds();
    const started = Date.now();
    const results = await Promise.all(clients.map((ns, i) => new Promise<number>((resolve) => {
      setTimeout(() => {
        const c = spawn('ip', ['netns', 'exec', ns.name, join(dir, 'machine.sh'), `rbm${x}${i}`, mac(i)], { stdio: 'ignore' });
        c.once('exit', (code) => resolve(code ?? 1));
      }, (i / MACHINES) * 10_000); // all started within 10 s
    })));
    const seconds = (Date.now() - started) / 1000;
    const breakdown = phaseBreakdown();
    const daemonCpu = metricValue('process_cpu_seconds_total') - cpuBefore;
    const hostCpu = hostCpuSeconds() - hostCpuBefore;
    const stalls = metricValue('event_loop_stalls_total') - stallsBefore;
    const failures = results.filter((c) => c !== 0).length;
    // /metrics is on the admin plane: HTTPS on the server namespace's loopback (self-signed, so -k).
    const metrics = srv.exec('curl', ['-sfk', '-H', `authorization: Bearer ${TOKEN}`, 'https://127.0.0.1:8443/metrics']);
    const drops = [...metrics.matchAll(/^rackboot_dhcp_drops_\S*\s+(\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    const floor = (MACHINES * perMachineMB) / linkMBps;
    console.log(`boot storm: ${MACHINES} machines in ${seconds.toFixed(1)} s; floor ${floor.toFixed(1)} s at ${linkMBps.toFixed(0)} MB/s; ${failures} failed; ${drops} DHCP drops`);
    console.log(`  per machine (median / p95 / max s): ${PHASES.map((p) => `${p} ${breakdown[p].map((v) => v.toFixed(2)).join(' / ')}`).join('; ')}`);
    console.log(`  daemon CPU ${daemonCpu.toFixed(1)} s of ${hostCpu.toFixed(1)} s busy CPU on the box (${(100 * daemonCpu / seconds).toFixed(0)}% of one core over the storm; the rest is the clients, the kernel and whatever else runs); loop stalls over 50 ms: ${stalls} s; load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    for (const p of PHASES) record({ name: `boot storm ${MACHINES}: ${p} per machine (median)`, unit: 's', ours: breakdown[p][0]!, better: 'lower' });
    record({ name: `boot storm ${MACHINES}: daemon CPU`, unit: 's', ours: daemonCpu, better: 'lower' });
    record({ name: `boot storm ${MACHINES}: seconds with a loop stall over 50 ms`, unit: 's', ours: stalls, better: 'lower' });
    record({ name: `boot storm ${MACHINES} machines`, unit: 's', ours: seconds, reference: floor, referenceName: 'floor', better: 'lower' });
    record({ name: `boot storm failures (${MACHINES})`, unit: 'machines', ours: failures, better: 'lower', absolute: 0 });
    record({ name: `boot storm DHCP drops (${MACHINES})`, unit: 'packets', ours: drops, better: 'lower', absolute: 0 });
    expect(results).toHaveLength(MACHINES);
  }, 1_200_000);
});
