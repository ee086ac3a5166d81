// Pieces of the boot storm bench that do not depend on which server stack
// answers: the simulated machine's script, the per-phase breakdown, the box's
// CPU, and the reference chain (dnsmasq DHCP + TFTP, nginx HTTP) serving the
// same files at the same URLs, so one storm can run against both stacks.
import { type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Netns } from '../../test/helpers/netns.js';
import { schematicId } from '../../src/factory/schematic.js';

export const PHASES = ['dhcp', 'tftp', 'script', 'kernel', 'initramfs'] as const;
export type Phase = (typeof PHASES)[number];

export const stormMac = (i: number): string =>
  `52:54:00:80:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
/** Reserved address of machine i in 10.80.0.0/16 (250 per /24, never .0 or .255). */
export const stormIp = (i: number): string => `10.80.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

/** USER_HZ, the unit of /proc/stat and /proc/PID/stat times (100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Busy CPU seconds of the whole box (all cores), from /proc/stat. */
export function hostCpuSeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = procStatCpuTicks();
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds the hypervisor gave to someone else while this VM wanted to run
 * (steal, counted within the busy CPU above): a round with much of it ran on
 * a slower machine, whatever the servers did.
 */
export function hostStealSeconds(): number {
  return procStatCpuTicks()[7]! / CLOCK_TICKS_PER_SECOND;
}

function procStatCpuTicks(): number[] {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  return ticks.map(Number);
}

/**
 * CPU seconds (user + system) of every process in the named network
 * namespace: the server side of a storm, measured the same way for rackboot
 * (the daemon and its addon threads) and for the chain (dnsmasq, nginx's
 * master and workers), so the two stacks' own CPU can be set side by side.
 * Softirq work done on behalf of a socket is charged to whichever task the
 * interrupt lands on, so this is the servers' process time, not all they cause.
 * By command name: `node` is rackboot's daemon, `dnsmasq` and `nginx` the chain's.
 */
export function namespaceCpuByCommand(nsName: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const pid of pidsInNamespace(nsName)) {
    try {
      const { command, cpu } = statCpu(`/proc/${pid}/stat`);
      seconds[command] = (seconds[command] ?? 0) + cpu;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return seconds;
}

/**
 * As namespaceCpuByCommand, from the scheduler's nanosecond run times of
 * every live thread (/proc/PID/task/TID/schedstat) instead of 10 ms ticks:
 * for a few milliseconds of work. A thread that has exited is not counted,
 * so this is for servers whose threads live as long as they do (rackboot's
 * addon threads, libuv's pool, nginx's workers, dnsmasq).
 */
export function namespaceRunSecondsByCommand(nsName: string): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const pid of pidsInNamespace(nsName)) {
    try {
      const command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      for (const tid of readdirSync(`/proc/${pid}/task`)) seconds[command] = (seconds[command] ?? 0) + threadRunSeconds(pid, Number(tid));
    } catch {
      // The process or a thread ended between the listing and the read.
    }
  }
  return seconds;
}

/** Seconds one thread has run (schedstat, nanoseconds): the daemon's event loop by default. */
export function threadRunSeconds(pid: number, tid = pid): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

function pidsInNamespace(nsName: string): number[] {
  const want = statSync(`/run/netns/${nsName}`).ino;
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1]) === want;
    } catch {
      return false;
    }
  }).map(Number);
}

/** CPU seconds of one thread of `pid` (its main thread by default: the daemon's event loop). */
export function threadCpuSeconds(pid: number, tid = pid): number {
  return statCpu(`/proc/${pid}/task/${tid}/stat`).cpu;
}

/**
 * CPU seconds of `pid`'s threads summed by thread name (/proc/PID/task/TID/comm):
 * the addon names its own (rb-sendfile, rb-tftp-acks); Node's are all "node".
 * A thread that ends while this reads is left out.
 */
export function threadCpuByName(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { command, cpu } = statCpu(`/proc/${pid}/task/${tid}/stat`);
      byName.set(command, (byName.get(command) ?? 0) + cpu);
    } catch { /* ended meanwhile */ }
  }
  return byName;
}

function statCpu(path: string): { command: string; cpu: number } {
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND };
}

/**
 * The simulated machine: udhcpc, TFTP of undionly.kpxe, the iPXE script, the
 * kernel and the initramfs, each step's end time (ns since the epoch) on its
 * own line in `<phasesDir>/<mac>` ($3 names the phases directory); the
 * script it got is kept as `<phasesDir>/<mac>.ipxe`, curl's errors in
 * `<phasesDir>/<mac>.err`.
 */
export function writeMachineScript(dir: string, server: string, kernelPath: string, initrdPath: string): void {
  writeUdhcpcScript(dir);
  writeFileSync(join(dir, 'machine.sh'), [
    '#!/bin/sh', 'set -e', 'if="$1"; mac="$2"; log="$3/$mac"', 'exec 2>"$log.err"', 'date +"start %s%N" > "$log"',
    `busybox udhcpc -i "$if" -n -q -f -t 10 -T 2 -s ${dir}/udhcpc.sh >/dev/null 2>&1`, 'date +"dhcp %s%N" >> "$log"',
    `curl -sfS -o /dev/null tftp://${server}/undionly.kpxe`, 'date +"tftp %s%N" >> "$log"',
    `curl -sfS -o "$log.ipxe" "http://${server}:8080/ipxe?mac=$mac&arch=i386"`, 'date +"script %s%N" >> "$log"',
    `curl -sfS -o /dev/null http://${server}:8080/assets/${kernelPath}`, 'date +"kernel %s%N" >> "$log"',
    `curl -sfS -o /dev/null http://${server}:8080/assets/${initrdPath}`, 'date +"initramfs %s%N" >> "$log"',
  ].join('\n'), { mode: 0o755 });
}

/** What writeStormFiles made: the config to serve with, and the assets' paths under /assets/. */
export interface StormFiles {
  config: string;
  kernelPath: string;
  initrdPath: string;
}

/**
 * The rack both stacks serve: an inventory of `machines` nodes at stormMac(i)
 * and stormIp(i), the Talos assets (`kernelMb` and `initrdMb` of filler) in
 * the cache layout, undionly.kpxe in the TFTP root, and rackboot's
 * settings (full DHCP on `serverIf`, HTTP on server:8080, `token` for the
 * admin plane), all under `dir`.
 */
export function writeStormFiles(dir: string, o: { machines: number; kernelMb: number; initrdMb: number; server: string; serverIf: string; token: string; version: string }): StormFiles {
  const schematic = schematicId({ extensions: [], extraKernelArgs: [] });
  const assets = join(dir, 'assets', schematic, o.version);
  mkdirSync(assets, { recursive: true });
  const mb = Buffer.alloc(1 << 20, 0x5a);
  writeFileSync(join(assets, 'kernel-amd64'), Buffer.concat(Array.from({ length: o.kernelMb }, () => mb)));
  writeFileSync(join(assets, 'initramfs-amd64.xz'), Buffer.concat(Array.from({ length: o.initrdMb }, () => mb)));
  mkdirSync(join(dir, 'ipxe'));
  copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(dir, 'ipxe', 'undionly.kpxe'));
  const nodes = Array.from({ length: o.machines }, (_, i) => ({
    name: `n-${i}`, mac: stormMac(i), role: i < 3 ? 'controlplane' : 'worker', ip: stormIp(i), installDisk: '/dev/sda',
  }));
  writeFileSync(join(dir, 'cluster.yaml'), JSON.stringify({ cluster: { name: 'storm', controlPlaneEndpoint: 'https://10.80.0.10:6443', talosVersion: o.version }, nodes }));
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, JSON.stringify({
    interface: o.serverIf, serverAddress: o.server, dataDir: join(dir, 'data'), inventory: join(dir, 'cluster.yaml'), assetsDir: join(dir, 'assets'),
    logLevel: 'warn', adminToken: o.token, dhcp: { mode: 'full', subnet: '10.80.0.0/16' },
    tftp: { root: join(dir, 'ipxe') }, http: { listen: `${o.server}:8080` }, console: { enabled: false },
  }));
  return { config, kernelPath: `${schematic}/${o.version}/kernel-amd64`, initrdPath: `${schematic}/${o.version}/initramfs-amd64.xz` };
}

/** `<dir>/udhcpc.sh`: udhcpc only reports a lease; this script puts it on the interface. */
export function writeUdhcpcScript(dir: string): void {
  writeFileSync(join(dir, 'udhcpc.sh'), '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n', { mode: 0o755 });
}

/** A fresh, empty phases directory for one storm. */
export function freshPhasesDir(dir: string, label: string): string {
  const p = join(dir, `phases-${label}`);
  rmSync(p, { recursive: true, force: true });
  mkdirSync(p);
  return p;
}

/**
 * Each machine's marks in a phases directory (the files named by a MAC;
 * `.ipxe` and `.err` are not marks): [step, ns since the epoch], in order.
 * `only` reads that machine's file alone.
 */
function machineMarks(phasesDir: string, only?: string): Array<{ mac: string; marks: Array<[string, string]> }> {
  return readdirSync(phasesDir).filter((n) => !n.includes('.') && (only === undefined || n === only)).map((mac) => ({
    mac, marks: readFileSync(join(phasesDir, mac), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]),
  }));
}

/** Per phase: [median, p95, max] seconds over the machines that finished it, pooled over every storm given. */
export function phaseBreakdown(...phasesDirs: string[]): Record<Phase, number[]> {
  const per = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
  for (const phasesDir of phasesDirs) for (const { marks } of machineMarks(phasesDir)) {
    for (let i = 1; i < marks.length; i++) {
      per[marks[i]![0] as Phase]?.push(Number(BigInt(marks[i]![1]) - BigInt(marks[i - 1]![1])) / 1e9);
    }
  }
  const q = (xs: number[], f: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * f))] ?? NaN;
  return Object.fromEntries(PHASES.map((p) => {
    const xs = per[p].sort((a, b) => a - b);
    return [p, [q(xs, 0.5), q(xs, 0.95), xs.at(-1) ?? NaN]];
  })) as Record<Phase, number[]>;
}

/**
 * Each machine's whole boot, from machine.sh's start (before its DHCP) to
 * its initramfs's last byte, in seconds, for the machines that finished;
 * `mac` picks one machine. The storm's duration is the last machine's start
 * plus this for it, so these say what the storm's rows compare once the
 * starts are fixed.
 */
export function wholeBoots(phasesDir: string, mac?: string): number[] {
  return machineMarks(phasesDir, mac).flatMap((m) => {
    const marks = new Map(m.marks);
    const start = marks.get('start');
    const end = marks.get('initramfs');
    return start && end ? [Number(BigInt(end) - BigInt(start)) / 1e9] : [];
  });
}

/** In milliseconds: a phase takes a few ms on a fast machine, which seconds to two places rounded to 0.01 or 0.00. */
export function describeBreakdown(b: Record<Phase, number[]>): string {
  return PHASES.map((p) => `${p} ${b[p].map((v) => (v * 1000).toFixed(1)).join(' / ')}`).join('; ');
}

/**
 * Starts the reference chain in `srv`: dnsmasq (DHCP with the same
 * reservations, TFTP from the same root) on `ifName`, nginx (sendfile) on
 * server:8080 serving the same assets and a static copy of rackboot's iPXE
 * script at /ipxe. Returns both processes; Netns.destroy() also ends them.
 */
export function startReferenceChain(srv: Netns, o: {
  dir: string; ifName: string; server: string; tftpRoot: string; assetsDir: string; script: string; machines: number;
}): ChildProcess[] {
  const ref = join(o.dir, 'ref');
  mkdirSync(ref, { recursive: true });
  writeFileSync(join(ref, 'ipxe.txt'), o.script);
  writeFileSync(join(ref, 'hosts'), Array.from({ length: o.machines }, (_, i) => `${stormMac(i)},${stormIp(i)}\n`).join(''));
  writeFileSync(join(ref, 'nginx.conf'), [
    'user root;', 'worker_processes auto;', `pid ${ref}/nginx.pid;`, `error_log ${ref}/nginx.err;`, 'daemon off;',
    'events { worker_connections 4096; }',
    'http {', '  access_log off;', '  sendfile on;', '  tcp_nopush on;', '  default_type application/octet-stream;',
    `  server {`, `    listen ${o.server}:8080;`,
    `    location /assets/ { alias ${o.assetsDir}/; }`,
    `    location = /ipxe { default_type text/plain; root ${ref}; try_files /ipxe.txt =404; }`,
    '  }', '}', '',
  ].join('\n'));
  const dnsmasq = srv.spawn('/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', `--interface=${o.ifName}`, '--bind-interfaces',
    '--no-ping', '--dhcp-authoritative', '--dhcp-range=10.80.1.1,10.80.254.254,255.255.0.0,1h', `--dhcp-hostsfile=${join(ref, 'hosts')}`,
    `--dhcp-leasefile=${join(ref, 'dnsmasq.leases')}`, '--dhcp-lease-max=100000', '--enable-tftp', `--tftp-root=${o.tftpRoot}`,
    `--tftp-max=${Math.max(100, o.machines)}`, '--user=root', `--pid-file=${join(ref, 'dnsmasq.pid')}`, '--log-facility=/dev/null']);
  const nginx = srv.spawn('/usr/sbin/nginx', ['-c', join(ref, 'nginx.conf')]);
  return [dnsmasq, nginx];
}

/** Ends a process started with Netns.spawn and waits for it to exit. */
export async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/**
 * Where the machines that failed stopped: the phase after their last mark,
 * with counts, and the most frequent error lines (curl's messages).
 */
export function failureSummary(phasesDir: string): string {
  const at = new Map<string, number>();
  const errors = new Map<string, number>();
  for (const { mac, marks } of machineMarks(phasesDir)) {
    const done = PHASES.indexOf(marks.at(-1)?.[0] as Phase);
    if (done === PHASES.length - 1) continue;
    const phase = PHASES[done + 1]!;
    at.set(phase, (at.get(phase) ?? 0) + 1);
    let err = '';
    try { err = readFileSync(join(phasesDir, `${mac}.err`), 'utf8').trim().split('\n').at(-1) ?? ''; } catch { /* none */ }
    const key = `${phase}: ${err || '(no message)'}`;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
  if (at.size === 0) return 'none';
  const top = [...errors].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `${n}x ${k}`).join('; ');
  return `${[...at].map(([p, n]) => `${n} in ${p}`).join(', ')}; most frequent: ${top}`;
}

/** SYNs the server namespace's listeners dropped (accept queue full), from its own counters. */
export function listenDrops(srv: Netns): number {
  const out = srv.exec('nstat', ['-az', 'TcpExtListenDrops']);
  return Number(/TcpExtListenDrops\s+(\d+)/.exec(out)?.[1] ?? NaN);
}

/** Packets the host dropped because a CPU's input backlog was full (all namespaces), /proc/net/softnet_stat. */
export function backlogDrops(): number {
  return readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n').reduce((a, l) => a + parseInt(l.split(/\s+/)[1]!, 16), 0);
}
