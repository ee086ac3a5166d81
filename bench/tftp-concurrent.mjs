#!/usr/bin/env node
// The TFTP phase of a 1,000-machine storm without the rest of the storm: N
// concurrent curl transfers of undionly.kpxe (74 kB, blksize 512, lock-step,
// as the storm's machines fetch it) from rackboot on the loop's uv_poll,
// rackboot with the shared ACK receiver thread (ackThread, the daemon's default) and dnsmasq, interleaved over
// ROUNDS; each transfer's time is curl's time_total. STALL=N holds each
// rackboot's event loop N ms of every 2N (RB_LOOP_STALL_MS in
// test/tftp/serve-child.ts), as the daemon's other work does in a storm.
// SERVERS=a,b picks servers. Not part of `npm run bench` (minutes, and a
// thousand processes): run as root from the repository root,
//   N=1000 ROUNDS=2 STALL=50 node bench/tftp-concurrent.mjs
// dnsmasq drops some transfers at this load and curl's TFTP client then
// waits forever; --max-time 120 ends those, counted as failed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { bundleTs, REPO as repo } from './lib/bundle.mjs';
const N = Number(process.env.N ?? 1000), ROUNDS = Number(process.env.ROUNDS ?? 3), STALL = process.env.STALL ?? '0';
const sfx = process.pid.toString(36).slice(-5);
const S = `rbtts${sfx}`, C = `rbttc${sfx}`;
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
const inNs = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const ADDR = { 'rackboot uv_poll': '10.98.72.1', 'rackboot ack thread': '10.98.72.8', dnsmasq: '10.98.72.5' };
const work = mkdtempSync(join(tmpdir(), 'rbt-conc-')); chmodSync(work, 0o755);
const root = join(work, 'root'); mkdirSync(root, { mode: 0o755 });
copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(root, 'undionly.kpxe')); chmodSync(join(root, 'undionly.kpxe'), 0o644);
const procs = {};
const bundleDir = join(repo, 'test-output', `bench-conc-${sfx}`);
const q = (xs, f) => xs[Math.min(xs.length - 1, Math.floor(xs.length * f))];
try {
  for (const ns of [S, C]) (sh('ip', ['netns', 'add', ns]), inNs(ns, 'ip', ['link', 'set', 'lo', 'up']));
  sh('ip', ['link', 'add', `rbtta${sfx}`, 'netns', S, 'type', 'veth', 'peer', 'name', `rbttb${sfx}`, 'netns', C]);
  for (const ip of Object.values(ADDR)) inNs(S, 'ip', ['addr', 'add', `${ip}/24`, 'dev', `rbtta${sfx}`]);
  inNs(C, 'ip', ['addr', 'add', '10.98.72.2/24', 'dev', `rbttb${sfx}`]);
  inNs(S, 'ip', ['link', 'set', `rbtta${sfx}`, 'up']); inNs(C, 'ip', ['link', 'set', `rbttb${sfx}`, 'up']);
  const { serve } = await bundleTs({ serve: 'test/tftp/serve-child.ts' }, bundleDir);
  const cfg = (host, ackThread) => JSON.stringify({ tftp: { enabled: true, root, port: 69, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 2000 }, host, ackThread });
  const list = {
    'rackboot uv_poll': [process.execPath, [serve, cfg(ADDR['rackboot uv_poll'], false)]],
    'rackboot ack thread': [process.execPath, [serve, cfg(ADDR['rackboot ack thread'], true)]],
    dnsmasq: ['/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${root}`, `--listen-address=${ADDR.dnsmasq}`, '--bind-interfaces', '--user=root', `--tftp-max=${N + 100}`, '--pid-file=', '--log-facility=/dev/null']],
  };
  for (const [name, [cmd, args]] of Object.entries(list)) {
    const p = spawn('ip', ['netns', 'exec', S, cmd, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, RB_LOOP_STALL_MS: STALL } });
    procs[name] = p;
    if (name.startsWith('rackboot')) await new Promise((ok) => createInterface({ input: p.stdout }).once('line', ok));
    else await new Promise((r) => setTimeout(r, 500));
  }
  const names = Object.keys(list).filter((n) => !process.env.SERVERS || process.env.SERVERS.split(',').includes(n)), res = Object.fromEntries(names.map((n) => [n, { per: [], wall: [], fail: 0 }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of names.map((_, k) => names[(k + r) % names.length])) {
      const t = process.hrtime.bigint();
      const out = inNs(C, 'sh', ['-c', `for i in $(seq ${N}); do curl -sS --max-time 120 -o /dev/null -w '%{time_total}\\n' tftp://${ADDR[name]}/undionly.kpxe 2>/dev/null || echo fail & done; wait`]);
      res[name].wall.push(Number(process.hrtime.bigint() - t) / 1e9);
      for (const l of out.split('\n').filter(Boolean)) l === 'fail' ? res[name].fail++ : res[name].per.push(Number(l));
    }
    console.error(`round ${r + 1} done`);
  }
  console.log(`${N} concurrent curl TFTP of undionly.kpxe (74 kB, blksize 512), ${ROUNDS} interleaved rounds, server loop stall ${STALL} ms of every ${2 * STALL}`);
  // rackboot's own count of what happened (serve-child answers "metrics" on stdin).
  const lines = Object.fromEntries(Object.entries(procs).filter(([n]) => n.startsWith('rackboot')).map(([n, p]) => [n, createInterface({ input: p.stdout })]));
  const totals = {};
  for (const [n, rl] of Object.entries(lines)) {
    procs[n].stdin.write('metrics\n');
    const { requests, duplicateRequests, lateDuplicateRequests, completed, unconfirmed, timeouts, aborted } = JSON.parse(await new Promise((ok) => rl.once('line', ok))).totals;
    totals[n] = `; server: ${requests} requests (${duplicateRequests} duplicate, ${lateDuplicateRequests} late duplicate), ${completed} completed, ${unconfirmed} unconfirmed, ${timeouts} timed out, ${aborted} aborted`;
  }
  for (const n of names) {
    const s = res[n].per.sort((a, b) => a - b);
    console.log(`${n.padEnd(22)} per transfer median ${q(s, 0.5).toFixed(2)} s p95 ${q(s, 0.95).toFixed(2)} s; wall per round ${res[n].wall.map((w) => w.toFixed(1)).join(' ')} s; failed ${res[n].fail}${totals[n] ?? ''}`);
  }
} finally {
  for (const p of Object.values(procs)) p.kill('SIGKILL');
  for (const ns of [S, C]) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(work, { recursive: true, force: true });
  rmSync(bundleDir, { recursive: true, force: true });
}
