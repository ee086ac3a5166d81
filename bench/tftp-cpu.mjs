#!/usr/bin/env node
// TFTP server CPU per transferred block: rackboot against dnsmasq and
// atftpd, one server process each in a namespace, the client in another.
// Not a timing bench: it reads each server's CPU time (utime + stime of the
// whole process, /proc/PID/stat, 10 ms ticks) before and after N transfers,
// which depends on the work done, not on how loaded the machine is; with
// STRACE=1 it also counts one transfer's system calls (strace -c -f).
// Run as root from the repository root:  node bench/tftp-cpu.mjs
// Tools as bench/tftp.mjs fetches them (test-output/bench-tools).
// It also counts each server's context switches per block (all its threads,
// /proc/PID/task/*/status). PIN=1 pins every server to CPU 0 and the client
// to CPU 1 (taskset), so the servers wake on the same core and none waits
// behind the client. LATENCY=1 captures one more transfer per server on the
// server's veth and reports the median turnaround: ACK in to the next DATA
// out (the server's part of a round trip, wake-up included) and DATA in to
// its ACK out (the client's part). UV_POLL=1 adds rackboot with its ACK
// receiver on the loop's uv_poll (the "rackboot" row runs the daemon's
// default, the shared receiver thread). Rows go to the bench table (CPU per block
// against dnsmasq and atftpd; no target: the targets are times).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { bundleTs } from './lib/bundle.mjs';
import { median, record } from './lib/results.mjs';
import { turnarounds } from './lib/pcap-turnaround.mjs';

const repo = resolve(import.meta.dirname, '..');
const N = Number(process.env.N ?? 5);
const sfx = process.pid.toString(36).slice(-5);
const S = `rbtrs${sfx}`, C = `rbtrc${sfx}`;
const ADDR = { rackboot: '10.98.71.1', 'rackboot uv_poll': '10.98.71.9', 'rackboot node ACKs': '10.98.71.7', 'rackboot per packet': '10.98.71.6', atftpd: '10.98.71.3', dnsmasq: '10.98.71.5' };
const tools = join(repo, 'test-output', 'bench-tools');
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const inNs = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = 1 / 100;
const pin = process.env.PIN === '1';
const pinned = (cpuList, cmd, args) => (pin ? ['taskset', ['-c', cpuList, cmd, ...args]] : [cmd, args]);

/** The same set bench/tftp.mjs fetches into the same place (atftpd also ships an in.tftpd, which tftpd-hpa's must win over). */
function fetchTools() {
  if (existsSync(join(tools, 'root', 'usr', 'sbin', 'atftpd')) && existsSync(join(tools, 'root', 'usr', 'sbin', 'in.tftpd'))) return;
  mkdirSync(tools, { recursive: true });
  sh('apt-get', ['download', 'tftpd-hpa', 'atftpd', 'libwrap0'], { cwd: tools });
  for (const deb of sh('sh', ['-c', 'ls *.deb'], { cwd: tools }).split('\n').filter(Boolean)) sh('dpkg-deb', ['-x', deb, 'root'], { cwd: tools });
}

/** Seconds of CPU the process (all its threads, live and exited) has used: [user, system]. */
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]) * TICK, Number(f[12]) * TICK];
}

/** Context switches (voluntary + involuntary) of the process's live threads. */
function switches(pid) {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    for (const m of st.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) n += Number(m[1]);
  }
  return n;
}

const workloads = {
  'atftp windowsize 8': (ip, out) => ['atftp', ['--option', 'windowsize 8', '-g', '-r', 'big.bin', '-l', out, ip]],
  'curl blksize 1468': (ip, out) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${ip}/big.bin`]],
};
const blocks = { 'atftp windowsize 8': Math.floor(8 * 1024 * 1024 / 512) + 1, 'curl blksize 1468': Math.floor(8 * 1024 * 1024 / 1468) + 1 };

async function main() {
  fetchTools();
  const work = mkdtempSync(join(tmpdir(), 'rbt-cpu-'));
  chmodSync(work, 0o755);
  const root = join(work, 'root');
  mkdirSync(root, { mode: 0o755 });
  writeFileSync(join(root, 'big.bin'), randomBytes(8 * 1024 * 1024));
  chmodSync(join(root, 'big.bin'), 0o644);
  const bundleDir = join(repo, 'test-output', `bench-cpu-${sfx}`);
  const procs = {};
  try {
    for (const ns of [S, C]) (sh('ip', ['netns', 'add', ns]), inNs(ns, 'ip', ['link', 'set', 'lo', 'up']));
    sh('ip', ['link', 'add', `rbtra${sfx}`, 'netns', S, 'type', 'veth', 'peer', 'name', `rbtrb${sfx}`, 'netns', C]);
    for (const ip of Object.values(ADDR)) inNs(S, 'ip', ['addr', 'add', `${ip}/24`, 'dev', `rbtra${sfx}`]);
    inNs(C, 'ip', ['addr', 'add', '10.98.71.2/24', 'dev', `rbtrb${sfx}`]);
    inNs(S, 'ip', ['link', 'set', `rbtra${sfx}`, 'up']);
    inNs(C, 'ip', ['link', 'set', `rbtrb${sfx}`, 'up']);
    const { serve } = await bundleTs({ serve: 'test/tftp/serve-child.ts' }, bundleDir);
    const cfg = (host, batchedSends, nativeAcks, ackThread = 'daemon') => JSON.stringify({ tftp: { enabled: true, root, port: 69, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 64 }, host, batchedSends, nativeAcks, ackThread });
    const list = {
      rackboot: [process.execPath, [serve, cfg(ADDR.rackboot)]],
      // Batched sends, Node's receive path: rackboot before the native ACK path.
      'rackboot node ACKs': [process.execPath, [serve, cfg(ADDR['rackboot node ACKs'], true, false)]],
      atftpd: [join(tools, 'root/usr/sbin/atftpd'), ['--daemon', '--no-fork', '--user', 'root.root', '--bind-address', ADDR.atftpd, '--port', '69', '--logfile', '/dev/null', '--maxthread', '100', root]],
      dnsmasq: ['/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${root}`, `--listen-address=${ADDR.dnsmasq}`, '--bind-interfaces', '--user=root', '--tftp-max=100', '--pid-file=', '--log-facility=/dev/null']],
    };
    if (process.env.UV_POLL === '1') list['rackboot uv_poll'] = [process.execPath, [serve, cfg(ADDR['rackboot uv_poll'], true, true, false)]];
    if (process.env.PER_PACKET === '1') list['rackboot per packet'] = [process.execPath, [serve, cfg(ADDR['rackboot per packet'], false)]];
    for (const [name, [cmd, args]] of Object.entries(list)) {
      const p = spawn('ip', ['netns', 'exec', S, ...pinned('0', cmd, args).flat()], { stdio: ['pipe', 'pipe', 'inherit'] });
      procs[name] = p;
      if (name.startsWith('rackboot')) await new Promise((ok) => createInterface({ input: p.stdout }).once('line', ok));
      else await sleep(500);
    }
    const out = join(work, 'out');
    console.log(`server CPU per transfer of 8 MiB, ${N} transfers each (10 ms ticks; µs per block = CPU / blocks)${pin ? '; servers on CPU 0, client on CPU 1' : ''}`);
    const perBlock = {};
    for (const [wl, make] of Object.entries(workloads)) {
      perBlock[wl] = {};
      for (const [name, p] of Object.entries(procs)) {
        const [cmd, args] = pinned('1', ...make(ADDR[name], out));
        // One warm-up transfer (file cache, JIT).
        inNs(C, cmd, args);
        const before = cpu(p.pid), switchesBefore = switches(p.pid);
        const t = process.hrtime.bigint();
        for (let i = 0; i < N; i++) inNs(C, cmd, args);
        const wall = Number(process.hrtime.bigint() - t) / 1e9 / N;
        const after = cpu(p.pid), cs = (switches(p.pid) - switchesBefore) / N / blocks[wl];
        perBlock[wl][name] = (after[0] - before[0] + after[1] - before[1]) / N / blocks[wl] * 1e6;
        const user = (after[0] - before[0]) / N, sys = (after[1] - before[1]) / N, per = user + sys;
        let strace = '';
        if (process.env.STRACE === '1') {
          const st = spawn('strace', ['-c', '-f', '-p', String(p.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
          let text = '';
          st.stderr.on('data', (d) => (text += d));
          await sleep(1000);
          inNs(C, cmd, args);
          st.kill('SIGINT');
          await new Promise((r) => st.once('exit', r));
          const calls = text.split('\n').filter((l) => /^\s*\d/.test(l) && !/total/.test(l)).map((l) => l.trim().split(/\s+/)).map((f) => [f[f.length - 1], Number(f[3])]).filter(([, c]) => c >= blocks[wl] / 20);
          strace = ' syscalls/block: ' + calls.map(([s, c]) => `${s} ${(c / blocks[wl]).toFixed(2)}`).join(', ');
        }
        let latency = '';
        if (process.env.LATENCY === '1') {
          const pcap = join(work, 'rt.pcap');
          const dump = spawn('ip', ['netns', 'exec', S, 'tcpdump', '-i', `rbtra${sfx}`, '-s', '64', '-w', pcap, '--time-stamp-precision=nano', '-U', 'udp', 'and', 'host', ADDR[name]], { stdio: ['ignore', 'ignore', 'pipe'] });
          await new Promise((r) => dump.stderr.once('data', r));
          inNs(C, cmd, args);
          await sleep(200);
          dump.kill('SIGINT');
          await new Promise((r) => dump.once('exit', r));
          const { server, client } = turnarounds(readFileSync(pcap), ADDR[name]);
          latency = ` turnaround µs (median of ${server.length}): server ${(median(server) * 1e6).toFixed(1)}, client ${(median(client) * 1e6).toFixed(1)}`;
        }
        console.log(`${wl.padEnd(20)} ${name.padEnd(20)} cpu ${per.toFixed(3)} s (user ${user.toFixed(3)}, sys ${sys.toFixed(3)})  ${(per / blocks[wl] * 1e6).toFixed(1)} µs/block (user ${(user / blocks[wl] * 1e6).toFixed(1)})  switches/block ${cs.toFixed(2)}  wall ${wall.toFixed(3)} s${strace}${latency}`);
      }
      for (const ref of ['dnsmasq', 'atftpd']) {
        record({ name: `tftp server CPU per block, ${wl} (8 MiB)`, unit: 'µs', ours: perBlock[wl].rackboot, better: 'lower', reference: perBlock[wl][ref], referenceName: ref });
      }
    }
  } finally {
    for (const p of Object.values(procs)) p.kill('SIGKILL');
    for (const ns of [S, C]) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(work, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
