#!/usr/bin/env node
// TFTP benchmark: rackboot against tftpd-hpa, atftpd and dnsmasq in one run
// and one topology (two network namespaces joined by a veth pair), serving
// the same random 8 MiB file and the real ipxe.efi. Not a test: it prints
// medians and ratios. Run as root from the repository root:
//   node bench/tftp.mjs            (BENCH_RUNS=5 by default)
// tftpd-hpa and atftpd conflict as packages and start services when
// installed, so their binaries are fetched with `apt-get download` and
// unpacked with `dpkg-deb -x` into test-output/bench-tools.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { median, quick, record } from './lib/results.mjs';
import { bundleTs } from './lib/bundle.mjs';

const repo = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 1 : 5));
const CONCURRENT = 50;
const sfx = `${process.pid.toString(36)}`.slice(-5);
const S = `rbtbs${sfx}`, C = `rbtbc${sfx}`, SIF = `rbtba${sfx}`, CIF = `rbtbb${sfx}`;
const SIP = '10.98.70.1', CIP = '10.98.70.2';
const tools = join(repo, 'test-output', 'bench-tools');
const libPath = join(tools, 'root', 'usr', 'lib', 'x86_64-linux-gnu');

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const inNs = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const sha = (b) => createHash('sha256').update(b).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fetchTools() {
  if (existsSync(join(tools, 'root', 'usr', 'sbin', 'atftpd')) && existsSync(join(tools, 'root', 'usr', 'sbin', 'in.tftpd'))) return;
  mkdirSync(tools, { recursive: true });
  sh('apt-get', ['download', 'tftpd-hpa', 'atftpd', 'libwrap0'], { cwd: tools });
  for (const deb of sh('sh', ['-c', 'ls *.deb'], { cwd: tools }).split('\n').filter(Boolean)) sh('dpkg-deb', ['-x', deb, 'root'], { cwd: tools });
}

/** Each server as [name, command, args]; all listen on SIP:69 in namespace S. */
function servers(root, rackbootBundle) {
  const cfg = { tftp: { enabled: true, root, port: 69, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 64 }, host: SIP };
  return [
    ['rackboot', process.execPath, [rackbootBundle, JSON.stringify(cfg)]],
    ['atftpd', join(tools, 'root/usr/sbin/atftpd'), ['--daemon', '--no-fork', '--user', 'root.root', '--bind-address', SIP, '--port', '69', '--logfile', '/dev/null', '--maxthread', '100', root]],
    ['tftpd-hpa', join(tools, 'root/usr/sbin/in.tftpd'), ['--foreground', '--listen', '--address', `${SIP}:69`, '--user', 'root', '--secure', root]],
    ['dnsmasq', '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${root}`, `--listen-address=${SIP}`, '--bind-interfaces', '--user=root', '--tftp-max=100', '--pid-file=', '--log-facility=/dev/null']],
  ];
}

const workloads = {
  'atftp windowsize 8': (file, out) => ['atftp', ['--option', 'windowsize 8', '-g', '-r', file, '-l', out, SIP]],
  'curl blksize 1468': (file, out) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://${SIP}/${file}`]],
};

function timed(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', C, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return s;
}

async function concurrent(file, outDir) {
  const t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => new Promise((ok, fail) => {
    const p = spawn('ip', ['netns', 'exec', C, 'curl', '-sS', '--tftp-blksize', '1468', '-o', join(outDir, `c${i}`), `tftp://${SIP}/${file}`], { stdio: 'ignore' });
    p.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`curl ${i} exited ${code}`))));
  })));
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function main() {
  if (process.geteuid?.() !== 0) throw new Error('run as root (network namespaces)');
  fetchTools();
  const work = mkdtempSync(join(tmpdir(), 'rbt-bench-'));
  chmodSync(work, 0o755);
  const root = join(work, 'root');
  mkdirSync(root, { mode: 0o755 });
  const files = { 'big.bin': randomBytes(8 * 1024 * 1024), 'ipxe.efi': readFileSync('/boot/ipxe.efi') };
  for (const [n, d] of Object.entries(files)) (writeFileSync(join(root, n), d), chmodSync(join(root, n), 0o644));
  const outDir = join(work, 'out');
  mkdirSync(outDir);
  const bundleDir = join(repo, 'test-output', `bench-tftp-${sfx}`);
  const procs = [];
  const results = {};
  try {
    for (const ns of [S, C]) (sh('ip', ['netns', 'add', ns]), inNs(ns, 'ip', ['link', 'set', 'lo', 'up']));
    sh('ip', ['link', 'add', SIF, 'netns', S, 'type', 'veth', 'peer', 'name', CIF, 'netns', C]);
    inNs(S, 'ip', ['addr', 'add', `${SIP}/24`, 'dev', SIF]);
    inNs(C, 'ip', ['addr', 'add', `${CIP}/24`, 'dev', CIF]);
    inNs(S, 'ip', ['link', 'set', SIF, 'up']);
    inNs(C, 'ip', ['link', 'set', CIF, 'up']);
    const { serve: bundle } = await bundleTs({ serve: 'test/tftp/serve-child.ts' }, bundleDir);
    for (const [name, cmd, args] of servers(root, bundle)) {
      const p = spawn('ip', ['netns', 'exec', S, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LD_LIBRARY_PATH: libPath } });
      procs.push(p);
      if (name === 'rackboot') await new Promise((ok) => createInterface({ input: p.stdout }).once('line', ok));
      else await sleep(500);
      if (p.exitCode !== null) throw new Error(`${name} exited ${p.exitCode}`);
      results[name] = {};
      for (const file of Object.keys(files)) {
        for (const [wl, argv] of Object.entries(workloads)) {
          const out = join(outDir, `${name}-${file}`);
          const times = [];
          for (let i = 0; i < RUNS; i++) {
            rmSync(out, { force: true });
            times.push(timed(...argv(file, out)));
            if (i === 0 && sha(readFileSync(out)) !== sha(files[file])) throw new Error(`${name} ${wl} ${file}: wrong bytes`);
          }
          results[name][`${wl} | ${file}`] = median(times);
        }
      }
      const times = [];
      for (let i = 0; i < RUNS; i++) times.push(await concurrent('ipxe.efi', outDir));
      for (let i = 0; i < CONCURRENT; i++) if (sha(readFileSync(join(outDir, `c${i}`))) !== sha(files['ipxe.efi'])) throw new Error(`${name}: concurrent client ${i} got wrong bytes`);
      results[name][`${CONCURRENT} concurrent curl | ipxe.efi`] = median(times);
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
      console.error(`${name}: done`);
    }
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const ns of [S, C]) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(work, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  }
  report(results);
}

function report(results) {
  const names = Object.keys(results);
  const rows = Object.keys(results.rackboot);
  console.log(`TFTP benchmark, median of ${RUNS} runs, seconds (lower is better); ratio = other / rackboot (>1: rackboot faster)`);
  console.log(['workload | file'.padEnd(40), ...names.map((n) => n.padStart(10)), ...names.slice(1).map((n) => `×${n}`.padStart(11))].join(' '));
  for (const row of rows) {
    const r = results.rackboot[row];
    console.log([row.padEnd(40), ...names.map((n) => results[n][row].toFixed(3).padStart(10)), ...names.slice(1).map((n) => (results[n][row] / r).toFixed(2).padStart(11))].join(' '));
  }
  const big = (n, wl) => results[n][`${wl} | big.bin`];
  const targets = [
    ['no slower than atftpd with windowsize (atftp windowsize 8, 8 MiB)', big('atftpd', 'atftp windowsize 8') / big('rackboot', 'atftp windowsize 8') >= 1],
    ['at least 2x faster than tftpd-hpa (atftp windowsize 8, 8 MiB)', big('tftpd-hpa', 'atftp windowsize 8') / big('rackboot', 'atftp windowsize 8') >= 2],
    ['no slower than dnsmasq at blksize 1468 (curl, 8 MiB)', big('dnsmasq', 'curl blksize 1468') / big('rackboot', 'curl blksize 1468') >= 1],
  ];
  for (const [t, ok] of targets) console.log(`${ok ? 'MET ' : 'MISS'} ${t}`);
  // The shared table (bench/run.mjs): seconds, lower is better; targets from the TFTP issue.
  const row = (_svc, wl, file, ref, targetRatio) => record({
    name: `tftp ${wl} ${file}`, unit: 's', ours: results.rackboot[`${wl} | ${file}`], better: 'lower',
    reference: results[ref][`${wl} | ${file}`], referenceName: ref, targetRatio,
  });
  row('tftp', 'atftp windowsize 8', 'big.bin', 'atftpd', 1);
  row('tftp', 'atftp windowsize 8', 'big.bin', 'tftpd-hpa', 0.5);
  row('tftp', 'curl blksize 1468', 'big.bin', 'dnsmasq', 1);
  row('tftp', 'curl blksize 1468', 'ipxe.efi', 'tftpd-hpa');
  record({ name: `tftp ${CONCURRENT} concurrent curl ipxe.efi`, unit: 's', ours: results.rackboot[`${CONCURRENT} concurrent curl | ipxe.efi`], better: 'lower',
    reference: results.atftpd[`${CONCURRENT} concurrent curl | ipxe.efi`], referenceName: 'atftpd' });
  const dir = join(repo, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `tftp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ runs: RUNS, results }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
