#!/usr/bin/env node
// Soak: the built daemon (dist/cli.js serve) in a namespace with full-mode
// DHCP, TFTP and HTTP, 50 inventory nodes and a small imported asset pair,
// under mixed load from real clients in other namespaces for N minutes
// (bench/lib/soak-load.mjs). Every 10 s it samples the daemon's VmRSS, JS
// heap and open fds; at the end it prints the samples and whether memory and
// fds stayed flat (bench/lib/soak-verdict.mjs says what that means), and
// appends rows to bench/results/soak.json. Not CI and not part of
// `npm run bench`. Run as root after `npm run build`:
//   npm run bench:soak [-- --minutes N]      (default 30)
// Exits non-zero if anything grew, the daemon died, a client check failed
// or a malformed datagram went uncounted.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO, bundleTs } from './lib/bundle.mjs';
import { daemonEnv, daemonNodeFlags } from './lib/daemon-flags.mjs';
import { record } from './lib/results.mjs';
import { LOADS, runIn, startLoad } from './lib/soak-load.mjs';
import { FD_MARGIN, FLAT_DEFINITION, flatVerdict, sampleTable } from './lib/soak-verdict.mjs';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' } } });
const MINUTES = Number(values.minutes);
if (!(MINUTES > 0)) throw new Error('--minutes must be a positive number');
const SAMPLE_MS = 10_000;
const NODES = 50;
const TOKEN = 'soak-admin-token-0123456789';
const SERVER = '10.81.0.1';
const HTTP = `http://${SERVER}:8080`;
const VERSION = 'v1.11.5';
const CLI = join(REPO, 'dist', 'cli.js');
const KPXE = '/usr/lib/ipxe/undionly.kpxe';
const RESULTS = join(REPO, 'bench', 'results', 'soak.json');
const mac = (i) => `52:54:00:81:00:${i.toString(16).padStart(2, '0')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Undone in reverse order on every exit path, Ctrl-C included.
const cleanups = [];
let cleaning;
const cleanup = () => (cleaning ??= (async () => {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((err) => console.error(`cleanup: ${err.message}`));
})());
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`\n${sig}: cleaning up namespaces and temp files`);
    void cleanup().then(() => process.exit(130));
  });
}

function inventoryText(disk, duplicateMac) {
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    name: `n-${i}`, mac: duplicateMac && i === 1 ? mac(0) : mac(i), role: i < 3 ? 'controlplane' : 'worker',
    ip: `10.81.0.${11 + i}`, installDisk: i === NODES - 1 ? disk : '/dev/sda',
  }));
  return JSON.stringify({ cluster: { name: 'soak', controlPlaneEndpoint: 'https://10.81.0.10:6443', talosVersion: VERSION }, nodes }, null, 2);
}

/** Sum of every sample of /metrics whose name starts with `prefix`. */
function metricSum(text, prefix) {
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
}

async function main() {
  if (process.geteuid?.() !== 0) throw new Error('run as root (network namespaces)');
  if (!existsSync(CLI) || !existsSync(join(REPO, 'native/bindtodevice/build/Release/bindtodevice.node'))) throw new Error('run `npm run build` first');
  const bundleDir = join(REPO, 'test-output', `soak-${process.pid}`);
  cleanups.push(() => rmSync(bundleDir, { recursive: true, force: true }));
  const ts = await bundleTs({ netns: 'test/helpers/netns.ts', harness: 'test/dhcp/netns/harness.ts' }, bundleDir);
  const { Netns, missingPrerequisites, uniqueSuffix } = await import(ts.netns);
  const { makeSwitch, plug, tempDir, waitFor } = await import(ts.harness);
  const { schematicId } = await import(join(REPO, 'dist', 'factory', 'schematic.js'));
  const why = missingPrerequisites(['/usr/sbin/perfdhcp', '/usr/bin/curl', '/bin/bash', KPXE]);
  if (why) throw new Error(why);

  // Files: settings, inventory in its own watched directory, TFTP root, assets imported by the CLI.
  const dir = tempDir();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const x = uniqueSuffix();
  const inventoryFile = join(dir, 'inventory', 'cluster.yaml');
  mkdirSync(join(dir, 'inventory'));
  writeFileSync(inventoryFile, inventoryText('/dev/sda', false));
  mkdirSync(join(dir, 'ipxe'));
  copyFileSync(KPXE, join(dir, 'ipxe', 'undionly.kpxe'));
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, JSON.stringify({
    interface: `rbkp${x}`, serverAddress: SERVER, dataDir: join(dir, 'data'), inventory: inventoryFile, assetsDir: join(dir, 'assets'),
    logLevel: 'warn', adminToken: TOKEN,
    dhcp: { mode: 'full', subnet: '10.81.0.0/16', pool: { start: '10.81.1.0', end: '10.81.1.255' }, leaseSeconds: 120 },
    // The clients read /metrics from their namespace, so the admin plane listens on the server address here.
    tftp: { root: join(dir, 'ipxe') }, http: { listen: `${SERVER}:8080`, adminListen: `${SERVER}:8443` },
  }));
  mkdirSync(join(dir, 'import'));
  writeFileSync(join(dir, 'import', 'kernel-amd64'), randomBytes(3 << 20));
  writeFileSync(join(dir, 'import', 'initramfs-amd64.xz'), randomBytes(6 << 20));
  const imported = spawnSync(process.execPath, [CLI, 'assets', 'import', '--dir', join(dir, 'import'), '--config', config], { encoding: 'utf8' });
  if (imported.status !== 0) throw new Error(`assets import failed: ${imported.stderr}`);
  const assetBase = `${HTTP}/assets/${schematicId({ extensions: [], extraKernelArgs: [] })}/${VERSION}`;
  const assets = ['kernel-amd64', 'initramfs-amd64.xz'].map((f) => ({ url: `${assetBase}/${f}`, size: statSync(join(dir, 'import', f)).size }));

  // One switch; the daemon, perfdhcp (as a relay agent on the subnet) and the other clients each in their own namespace.
  const sw = makeSwitch(`rbkw${x}`);
  const spaces = [sw];
  cleanups.push(async () => { for (const ns of spaces.reverse()) await ns.destroy(); });
  const srv = Netns.create(`rbks${x}`);
  const perf = Netns.create(`rbkf${x}`);
  const cl = Netns.create(`rbkc${x}`);
  spaces.push(srv, perf, cl);
  plug(sw, srv, `rbkp${x}`, `rbkP${x}`, { cidr: `${SERVER}/16` });
  plug(sw, perf, `rbkq${x}`, `rbkQ${x}`, { cidr: '10.81.0.5/16' });
  plug(sw, cl, `rbkr${x}`, `rbkR${x}`, { cidr: '10.81.0.6/16' });

  const daemon = srv.spawn(process.execPath, [...daemonNodeFlags(), CLI, 'serve', '--config', config], { cwd: REPO, env: daemonEnv() });
  const logTail = [];
  const errorLines = [];
  let buf = '';
  daemon.stdout.on('data', (d) => {
    buf += d;
    for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
      const line = buf.slice(0, nl);
      logTail.push(line);
      if (logTail.length > 50) logTail.shift();
      let level = 0;
      try { level = JSON.parse(line).level; } catch { /* not JSON */ }
      // A rejected inventory edit is logged as an error on purpose.
      if (level >= 50 && !line.includes('inventory rejected')) errorLines.push(line);
    }
  });
  daemon.stderr.on('data', (d) => logTail.push(String(d)));
  let died;
  daemon.on('exit', (code, signal) => (died = { code, signal, at: Date.now() }));
  await waitFor(() => {
    try { return cl.exec('curl', ['-sf', `${HTTP}/healthz`]).includes('true'); } catch { return false; }
  }, 30_000, () => `rackboot did not start: ${logTail.join('\n')}`);
  const pid = daemon.pid;
  if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node') throw new Error(`pid ${pid} is not the daemon`);
  const metrics = async () => (await runIn(cl.name, 'curl', ['-sSfk', '-H', `authorization: Bearer ${TOKEN}`, `https://${SERVER}:8443/metrics`], 30_000)).stdout;
  const countedBad = (m) => ({ dhcp: metricSum(m, 'rackboot_dhcp_parse_errors_'), tftp: metricSum(m, 'rackboot_tftp_malformed_total') });
  const badBefore = countedBad(await metrics());

  const started = Date.now();
  const env = {
    clientNs: cl.name, perfNs: perf.name, perfIf: `rbkq${x}`, server: SERVER, httpUrl: HTTP, adminUrl: `https://${SERVER}:8443`, token: TOKEN,
    nodeMacs: Array.from({ length: NODES }, (_, i) => mac(i)), kpxeSize: statSync(KPXE).size, assets,
    inventory: { file: inventoryFile, good: (k) => inventoryText(k % 4 === 0 ? '/dev/sdb' : '/dev/sda', false), bad: () => inventoryText('/dev/sda', true) },
    deadline: started + MINUTES * 60_000, dhcp: { rate: 20, renewRate: 4, releaseRate: 2, clients: 200 },
  };
  console.log(`soak: ${MINUTES} min against pid ${pid}; sampling every ${SAMPLE_MS / 1000} s, printing every minute`);
  const load = startLoad(env);
  const procStatus = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  const openFds = () => readdirSync(`/proc/${pid}/fd`).length;
  const samples = [];
  for (let next = started + SAMPLE_MS; next <= env.deadline; next += SAMPLE_MS) {
    await sleep(next - Date.now());
    if (died) break;
    const m = await metrics();
    const heap = /^rackboot_process_heap_used_bytes (\S+)$/m.exec(m);
    const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
    const s = { elapsedS: (Date.now() - started) / 1000, rssMb: procStatus('VmRSS'), heapMb: heap ? Number(heap[1]) / 2 ** 20 : null, fds: openFds(), done: { ...load.done }, errors };
    samples.push(s);
    if (samples.length % (60_000 / SAMPLE_MS) === 0) {
      const table = sampleTable(samples.slice(-1), LOADS, 7).split('\n');
      if (samples.length === 60_000 / SAMPLE_MS) console.log(table[0]);
      console.log(table[1]);
    }
  }
  if (died) {
    console.error(`the daemon DIED after ${((died.at - started) / 1000).toFixed(0)} s (code ${died.code}, signal ${died.signal}):\n${logTail.join('\n')}`);
    env.deadline = Date.now();
  }
  await load.stop();

  // Quiet: no clients left; HTTP keep-alive (5 s) and TFTP retries end, then the fewest fds seen over 5 s.
  let quietFds = Infinity;
  let quietRss = NaN;
  if (!died) {
    await sleep(8_000);
    for (let i = 0; i < 5; i++) (quietFds = Math.min(quietFds, openFds()), await sleep(1000));
    quietRss = procStatus('VmRSS');
  }
  const badAfter = died ? badBefore : countedBad(await metrics());
  const rounds = load.done['bad-udp'] / 6;
  const badCounted = badAfter.dhcp - badBefore.dhcp >= rounds * 3 && badAfter.tftp - badBefore.tftp >= rounds * 3;

  console.log('\nsamples: requests completed so far per load type (dhcp: leases granted and renewed plus releases sent, added as');
  console.log(`each perfdhcp run of up to 60 s ends); errors = failed client checks so far\n${sampleTable(samples, LOADS)}`);
  const verdict = flatVerdict(samples, quietFds);
  const failures = Object.values(load.errors).reduce((a, b) => a + b, 0);
  const completed = Object.values(load.done).reduce((a, b) => a + b, 0);
  console.log(`\nflat means:\n${FLAT_DEFINITION}\n\n${verdict.why}`);
  console.log(`after the load: VmRSS ${quietRss.toFixed(1)} MB, ${quietFds} open fds; peak VmRSS (VmHWM) ${died ? '-' : procStatus('VmHWM').toFixed(1)} MB`);
  console.log(`requests completed: ${completed} (${LOADS.map((n) => `${n} ${load.done[n]}`).join(', ')})`);
  console.log(`client failures: ${failures}${failures ? ` (${LOADS.filter((n) => load.errors[n]).map((n) => `${n} ${load.errors[n]}`).join(', ')})` : ''}`);
  for (const f of load.failures.slice(0, 10)) console.log(`  ${f.at} ${f.load}: ${f.message}`);
  console.log(`malformed datagrams: sent ${rounds * 3} DHCP + ${rounds * 3} TFTP; the daemon counted ${badAfter.dhcp - badBefore.dhcp} DHCP parse errors and ${badAfter.tftp - badBefore.tftp} TFTP malformed: ${badCounted ? 'all counted' : 'NOT all counted'}`);
  console.log(`daemon error log lines (besides rejected inventory edits): ${errorLines.length}`);
  for (const l of errorLines.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);

  let cleanExit = false;
  if (!died) {
    daemon.kill('SIGTERM');
    for (let i = 0; i < 100 && !died; i++) await sleep(100);
    cleanExit = died?.code === 0;
    console.log(`daemon stop on SIGTERM: ${cleanExit ? 'clean (exit 0)' : `NOT clean (${JSON.stringify(died)})`}`);
  }
  const tag = `soak ${MINUTES} min`;
  if (verdict.rss) {
    for (const [stat, st] of Object.entries(verdict.rss)) {
      record({ name: `${tag}: ${stat} RSS growth, first to last third`, unit: 'MB', ours: Number((st.to - st.from).toFixed(1)), better: 'lower', absolute: Number(st.allowedMb.toFixed(1)) }, RESULTS);
    }
    record({ name: `${tag}: open fds after the load over warm-up`, unit: 'fds', ours: verdict.quietFds - verdict.fdBaseline, better: 'lower', absolute: FD_MARGIN }, RESULTS);
  }
  record({ name: `${tag}: client failures`, unit: 'requests', ours: failures, better: 'lower', absolute: 0 }, RESULTS);
  record({ name: `${tag}: daemon survived and stopped cleanly`, unit: 'yes=1', ours: cleanExit ? 1 : 0, better: 'higher', absolute: 1 }, RESULTS);
  record({ name: `${tag}: requests completed`, unit: 'requests', ours: completed, better: 'higher' }, RESULTS);
  const pass = verdict.flat && cleanExit && failures === 0 && badCounted;
  console.log(`\nverdict: ${verdict.flat ? 'FLAT' : 'NOT FLAT'}; ${pass ? 'PASS' : 'FAIL'}; rows appended to bench/results/soak.json`);
  return pass ? 0 : 1;
}

main()
  .then(async (code) => (await cleanup(), process.exit(code)))
  .catch(async (err) => {
    console.error(err);
    await cleanup();
    process.exit(1);
  });
