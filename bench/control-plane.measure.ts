// Control-plane CPU per booting machine, phase by phase: what the servers
// spend on one machine's DHCP exchange (busybox udhcpc), its TFTP transfer
// of undionly.kpxe (curl, 512-byte blocks), its iPXE script and its two
// asset requests (curl, a new connection each), as the boot storm's machines
// do, but one machine at a time, so that nothing else runs meanwhile. The
// storm measures the same steps all at once, where a saturated box mixes
// the stacks' costs with the clients' and the ratio moves with the
// machine's spells; here each phase's CPU is its own. The same machines
// boot against rackboot's daemon and against the reference chain (dnsmasq
// DHCP + TFTP, nginx HTTP), and the script request once more against two
// floors that answer the same bytes: Node's bare http server and a bare
// fastify, i.e. what any Node server pays on this machine for one request
// on a new connection. Three rounds (one with --quick), medians. CPU is the scheduler's run time of every thread of
// the server namespace's processes (schedstat), so the kernel's work done
// in those threads (the sends, and the veth delivery that runs in the
// sender's context) counts for both stacks alike.
//
// Latency one machine at a time, for the same steps: each step's wall time
// (its command's own start included, so mostly the client's: udhcpc takes
// about 30 ms between OFFER and REQUEST with either server) and, for the
// HTTP steps, curl's own clock from the connection to the response's first
// and last byte, which leaves the client's start-up out. Before each
// stack's phases, its CPU per second while nothing asks: a phase's CPU row
// includes the server's timers over the step (most for DHCP's ~85 ms).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisites, Netns, uniqueSuffix } from '../test/helpers/netns.js';
import { buildCli, cleanupDir, makeSwitch, plug, REPO, tempDir, waitFor } from '../test/dhcp/netns/harness.js';
import { daemonEnv, daemonNodeFlags } from './lib/daemon-flags.mjs';
import { median, quick, record } from './lib/results.mjs';
import { namespaceRunSecondsByCommand, PHASES, startReferenceChain, stop, stormMac, threadRunSeconds, writeStormFiles, writeUdhcpcScript, type Phase, type StormFiles } from './lib/storm.js';

const why = missingPrerequisites(['/usr/bin/busybox', '/usr/bin/curl', '/usr/lib/ipxe/undionly.kpxe', '/usr/sbin/dnsmasq', '/usr/sbin/nginx']);
const MACHINES = Number(process.env.BENCH_CONTROL_MACHINES ?? (quick ? 30 : 100));
/** Rounds of the pair (rackboot, chain), alternating which goes first; one with --quick. */
const ROUNDS = Number(process.env.BENCH_CONTROL_ROUNDS ?? (quick ? 1 : 3));
const VERSION = 'v1.11.5';
const x = uniqueSuffix();
const SERVER = '10.80.0.1';
const SERVER_IF = `rbcp${x}`;

let sw: Netns;
let srv: Netns;
const clients: Netns[] = [];
let dir: string;
let cli: string;
let files: StormFiles;

/** The steps that are HTTP requests: curl reports when their responses' first and last bytes came. */
const HTTP_PHASES = ['script', 'kernel', 'initramfs'] as const;
const isHttp = (phase: Phase) => (HTTP_PHASES as readonly Phase[]).includes(phase);

/** Machine i's command for one phase, run in its namespace. */
function step(phase: Phase, i: number): [string, string[]] {
  // For HTTP, curl's own clock: from the connection's establishment to the response's first byte, and to its end.
  const get = (url: string): [string, string[]] => ['curl', ['-sfS', '-o', '/dev/null', ...(isHttp(phase) ? ['-w', '%{time_connect} %{time_starttransfer} %{time_total}'] : []), url]];
  switch (phase) {
    case 'dhcp': return ['busybox', ['udhcpc', '-i', `rbm${x}${i}`, '-n', '-q', '-f', '-t', '10', '-T', '2', '-s', join(dir, 'udhcpc.sh')]];
    case 'tftp': return get(`tftp://${SERVER}/undionly.kpxe`);
    case 'script': return get(`http://${SERVER}:8080/ipxe?mac=${stormMac(i)}&arch=i386`);
    case 'kernel': return get(`http://${SERVER}:8080/assets/${files.kernelPath}`);
    case 'initramfs': return get(`http://${SERVER}:8080/assets/${files.initrdPath}`);
  }
}

/** Per phase: server CPU per machine (ms), the event loop's share, the step's wall time, and an HTTP response's first and last byte after its connection (curl's clock), medians. */
interface PhaseCost { all: number; loop?: number; wall: number; firstByte?: number; last?: number }
/** One stack's round: every phase, and its CPU per second idle just before. */
interface Round { phases: Record<string, PhaseCost>; idle: number }

const serverSeconds = () => Object.values(namespaceRunSecondsByCommand(srv.name)).reduce((a, b) => a + b, 0);

/**
 * The server side's CPU per second while no machine asks anything (ms/s):
 * what a phase's CPU row holds besides the phase's own work. It matters for
 * DHCP, whose step lasts about 85 ms (most of it udhcpc's own), where
 * rackboot's timers (the event-loop watch samples every 10 ms) run too.
 */
async function idleCpuPerSecond(seconds = 2): Promise<number> {
  const before = serverSeconds();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((serverSeconds() - before) * 1000) / seconds;
}

/**
 * Boots every machine through `phases`, one machine at a time, phase by
 * phase: per phase, the server side's CPU per machine in ms, and the
 * event loop's share when `loopOf` names the daemon.
 */
function bootOneByOne(phases: readonly Phase[], loopOf?: number): Record<string, PhaseCost> {
  const out: Record<string, PhaseCost> = {};
  for (const phase of phases) {
    const before = serverSeconds();
    const loopBefore = loopOf === undefined ? 0 : threadRunSeconds(loopOf);
    const walls: number[] = [];
    const firstBytes: number[] = [];
    const lasts: number[] = [];
    for (let i = 0; i < MACHINES; i++) {
      const [cmd, args] = step(phase, i);
      const t0 = process.hrtime.bigint();
      const said = clients[i]!.exec(cmd, args);
      walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!isHttp(phase)) continue;
      const [connected, firstByte, last] = said.trim().split(' ').map((v) => Number(v) * 1000) as [number, number, number];
      firstBytes.push(firstByte - connected);
      lasts.push(last - connected);
    }
    out[phase] = {
      all: ((serverSeconds() - before) * 1000) / MACHINES,
      loop: loopOf === undefined ? undefined : ((threadRunSeconds(loopOf) - loopBefore) * 1000) / MACHINES,
      wall: median(walls),
      firstByte: firstBytes.length ? median(firstBytes) : undefined,
      last: lasts.length ? median(lasts) : undefined,
    };
  }
  return out;
}

const unconfigured = () => { for (let i = 0; i < MACHINES; i++) clients[i]!.exec('ip', ['addr', 'flush', 'dev', `rbm${x}${i}`]); };

/** A Node server in `srv` answering every request on server:8080 with `script`: bare node:http, or fastify with one route. */
function startFloor(kind: 'node:http' | 'fastify', script: string) {
  const body = JSON.stringify(script);
  const code = kind === 'node:http'
    ? `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'text/plain; charset=utf-8'); s.end(${body}); }).listen(8080, '${SERVER}', () => console.log('up'))`
    : `const f = require(${JSON.stringify(join(REPO, 'node_modules', 'fastify'))})(); f.get('/ipxe', async (q, r) => { r.type('text/plain; charset=utf-8'); return ${body}; }); f.listen({ port: 8080, host: '${SERVER}' }).then(() => console.log('up'))`;
  return srv.spawn(process.execPath, ['-e', code]);
}

describe.skipIf(why)(`control-plane CPU per machine: ${MACHINES} machines one at a time`, () => {
  beforeAll(() => {
    cli = buildCli();
    dir = tempDir();
    chmodSync(dir, 0o755);
    // Asset sizes do not change a request's fixed cost; small ones keep the bench short.
    files = writeStormFiles(dir, { machines: MACHINES, kernelMb: 2, initrdMb: 8, server: SERVER, serverIf: SERVER_IF, token: 'bench-admin-token-0123456789', version: VERSION });
    sw = makeSwitch(`rbcw${x}`);
    srv = Netns.create(`rbcs${x}`);
    plug(sw, srv, SERVER_IF, `rbcP${x}`, { cidr: `${SERVER}/16` });
    for (let i = 0; i < MACHINES; i++) {
      const ns = Netns.create(`rbcc${x}${i}`);
      clients.push(ns);
      plug(sw, ns, `rbm${x}${i}`, `rbcc${x}${i}`, { mac: stormMac(i) });
    }
    writeUdhcpcScript(dir);
  }, 600_000);

  afterAll(async () => {
    for (const ns of [...clients, srv, sw]) await ns?.destroy();
    cleanupDir(dir);
  }, 600_000);

  it('each phase\'s server CPU per machine, rackboot against the chain, and Node\'s floor for a request', async () => {
    let script = '';
    const onRackboot = async () => {
      let log = '';
      const rackboot = srv.spawn(process.execPath, [...daemonNodeFlags(), cli, 'serve', '--config', files.config], { cwd: REPO, env: daemonEnv() });
      rackboot.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      rackboot.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      await waitFor(() => { try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/healthz`]).includes('true'); } catch { return false; } }, 30_000, () => `rackboot did not start: ${log.slice(-2000)}`);
      // The admin plane and the first inventory load finish after /healthz answers.
      await new Promise((r) => setTimeout(r, 3000));
      unconfigured();
      const idle = await idleCpuPerSecond();
      const got = bootOneByOne(PHASES, rackboot.pid!);
      script ||= clients[0]!.exec('curl', ['-sfS', `http://${SERVER}:8080/ipxe?mac=${stormMac(0)}&arch=i386`]);
      await stop(rackboot);
      return { phases: got, idle };
    };
    const onChain = async () => {
      const chain = startReferenceChain(srv, { dir, ifName: SERVER_IF, server: SERVER, tftpRoot: join(dir, 'ipxe'), assetsDir: join(dir, 'assets'), script, machines: MACHINES });
      await waitFor(() => { try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/ipxe`]) === script; } catch { return false; } }, 30_000, () => 'nginx did not start');
      unconfigured();
      const idle = await idleCpuPerSecond();
      const got = bootOneByOne(PHASES);
      for (const p of chain) await stop(p);
      return { phases: got, idle };
    };
    // Rounds alternate which stack goes first (as the storm's do), so the
    // machine's slow and fast spells fall on both; each row is a median.
    const oursByRound: Round[] = [];
    const refByRound: Round[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 1) refByRound.push(await onChain());
      oursByRound.push(await onRackboot());
      if (round % 2 === 0) refByRound.push(await onChain());
    }
    const medianOf = (rounds: Round[]) => Object.fromEntries(PHASES.map((p) => {
      const of = (k: keyof PhaseCost) => (rounds[0]!.phases[p]![k] === undefined ? undefined : median(rounds.map((r) => r.phases[p]![k]!)));
      return [p, { all: of('all')!, loop: of('loop'), wall: of('wall')!, firstByte: of('firstByte'), last: of('last') }];
    })) as Record<Phase, PhaseCost>;
    const ours = medianOf(oursByRound);
    const ref = medianOf(refByRound);
    const idle = { ours: median(oursByRound.map((r) => r.idle)), ref: median(refByRound.map((r) => r.idle)) };

    // The machines keep the chain's leases for the floors' script requests.
    const floors: Record<string, PhaseCost> = {};
    for (const kind of ['node:http', 'fastify'] as const) {
      const floor = startFloor(kind, script);
      await waitFor(() => { try { return srv.exec('curl', ['-sf', `http://${SERVER}:8080/ipxe`]) === script; } catch { return false; } }, 30_000, () => `${kind} floor did not start`);
      floors[kind] = bootOneByOne(['script']).script!;
      await stop(floor);
    }

    const total = (r: typeof ours, k: 'all' | 'loop') => PHASES.reduce((a, p) => a + (r[p]![k] ?? 0), 0);
    console.log(`control-plane CPU per machine (ms), ${MACHINES} machines one at a time, median of ${ROUNDS} rounds: rackboot (its event loop) / dnsmasq+nginx`);
    for (const p of PHASES) console.log(`  ${p.padEnd(10)} ${ours[p]!.all.toFixed(2)} (${ours[p]!.loop!.toFixed(2)}) / ${ref[p]!.all.toFixed(2)}  ${(ours[p]!.all / ref[p]!.all).toFixed(2)}x`);
    console.log(`  ${'all'.padEnd(10)} ${total(ours, 'all').toFixed(2)} (${total(ours, 'loop').toFixed(2)}) / ${total(ref, 'all').toFixed(2)}  ${(total(ours, 'all') / total(ref, 'all')).toFixed(2)}x`);
    console.log(`  idle, per second: ${idle.ours.toFixed(2)} / ${idle.ref.toFixed(2)}`);
    console.log('each step\'s wall time (ms, the median machine; the command under ip netns exec, its own start included): rackboot / dnsmasq+nginx');
    for (const p of PHASES) console.log(`  ${p.padEnd(10)} ${ours[p]!.wall.toFixed(2)} / ${ref[p]!.wall.toFixed(2)}`);
    const bytes = (c: PhaseCost) => `${c.firstByte!.toFixed(3)} / ${c.last!.toFixed(3)}`;
    console.log('an HTTP response\'s first / last byte after its connection (ms, curl\'s clock, the median machine): rackboot; dnsmasq+nginx');
    for (const p of HTTP_PHASES) console.log(`  ${p.padEnd(10)} ${bytes(ours[p]!)}; ${bytes(ref[p]!)}`);
    console.log(`  the script from bare node:http ${bytes(floors['node:http']!)}, from bare fastify ${bytes(floors.fastify!)}`);
    console.log(`one script request with a new connection (server CPU, ms): bare node:http ${floors['node:http']!.all.toFixed(2)}, bare fastify ${floors.fastify!.all.toFixed(2)}, rackboot ${ours.script!.all.toFixed(2)}, nginx ${ref.script!.all.toFixed(2)}`);

    const refName = 'dnsmasq+nginx';
    for (const p of PHASES) {
      record({ name: `control plane: ${p} CPU per machine`, unit: 'ms', ours: ours[p]!.all, reference: ref[p]!.all, referenceName: refName, better: 'lower' });
    }
    record({ name: 'control plane: CPU per machine, all phases', unit: 'ms', ours: total(ours, 'all'), reference: total(ref, 'all'), referenceName: refName, better: 'lower', runRatios: oursByRound.map((o, i) => total(o.phases, 'all') / total(refByRound[i]!.phases, 'all')) });
    record({ name: 'control plane: event loop CPU per machine, all phases', unit: 'ms', ours: total(ours, 'loop'), better: 'lower' });
    record({ name: 'control plane: server CPU per second, idle', unit: 'ms', ours: idle.ours, reference: idle.ref, referenceName: refName, better: 'lower' });
    for (const kind of ['node:http', 'fastify'] as const) {
      record({ name: `control plane: script request CPU, bare ${kind} (Node's floor)`, unit: 'ms', ours: floors[kind]!.all, reference: ref.script!.all, referenceName: 'nginx', better: 'lower' });
    }
    for (const p of PHASES) {
      record({ name: `control plane: ${p} step wall time per machine`, unit: 'ms', ours: ours[p]!.wall, reference: ref[p]!.wall, referenceName: refName, better: 'lower' });
    }
    for (const p of HTTP_PHASES) {
      record({ name: `control plane: ${p} first byte after the connection`, unit: 'ms', ours: ours[p]!.firstByte!, reference: ref[p]!.firstByte!, referenceName: refName, better: 'lower' });
    }
    for (const kind of ['node:http', 'fastify'] as const) {
      record({ name: `control plane: script first byte after the connection, bare ${kind} (Node's floor)`, unit: 'ms', ours: floors[kind]!.firstByte!, reference: ref.script!.firstByte!, referenceName: 'nginx', better: 'lower' });
    }
    for (const p of PHASES) expect(ours[p]!.all).toBeGreaterThan(0);
    for (const p of HTTP_PHASES) expect(ours[p]!.last!).toBeGreaterThanOrEqual(ours[p]!.firstByte!);
  }, 1_800_000);
});
