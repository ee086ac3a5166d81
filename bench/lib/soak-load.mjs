// The soak's clients. Each load type is a loop: start one real client
// (perfdhcp, curl, bash writing to /dev/udp) inside a namespace, check what
// came back, count it, pause, repeat until the deadline. A check that fails
// is a client failure, counted per load type with its message kept.
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { perfdhcpStats } from './perfdhcp-report.mjs';

export const LOADS = ['dhcp', 'tftp', 'ipxe', 'assets', 'range', 'api', 'metrics', 'sse', 'inventory', 'bad-udp'];

/** Runs `cmd` in namespace `ns`; resolves {code, stdout, stderr}, never rejects. */
export function runIn(ns, cmd, args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (err) => (stderr += err.message));
    p.on('close', (code, signal) => (clearTimeout(timer), resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
/** `\xNN` for every byte: bash's printf writes them as-is, NULs included. */
const printfBytes = (buf) => [...buf].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');

/** Datagrams the daemon must count and drop: DHCP parse errors and TFTP malformed requests. */
export const BAD_DATAGRAMS = {
  dhcp: [
    Buffer.from('not a dhcp packet'),                                             // too short
    Buffer.concat([Buffer.from([1, 1, 6, 0]), Buffer.alloc(236), Buffer.from([1, 2, 3, 4])]), // bad cookie
    Buffer.concat([Buffer.from([7, 1, 6, 0]), Buffer.alloc(300)]),                  // bad op
  ],
  tftp: [
    Buffer.from([0, 1]),                                                             // too short
    Buffer.from('\0\x01undionly.kpxe'),                                              // RRQ without NULs
    Buffer.from('\0\x01undionly.kpxe\0octet\0blksize\0'),                            // option without value
  ],
};

/**
 * env: {clientNs, perfNs, perfIf, server, httpUrl, adminUrl, token, nodeMacs, kpxeSize,
 * assets: [{url, size}], inventory: {file, good(k), bad()}, deadline, dhcp: {rate, clients}}.
 * Returns {done, errors, failures, stop()}; stop() waits for every loop to end.
 */
export function startLoad(env) {
  const done = Object.fromEntries(LOADS.map((n) => [n, 0]));
  const errors = Object.fromEntries(LOADS.map((n) => [n, 0]));
  const failures = [];
  const left = () => env.deadline - Date.now();
  const fail = (load, message) => {
    errors[load]++;
    failures.push({ at: new Date().toISOString(), load, message: message.slice(0, 300) });
  };
  const client = (args, timeoutMs) => runIn(env.clientNs, args[0], args.slice(1), timeoutMs);
  // The admin plane is HTTPS with a self-signed certificate (-k: the soak measures load, not trust).
  const auth = ['-k', '-H', `authorization: Bearer ${env.token}`];

  /**
   * Repeats `once` with a jittered pause. `once` returns what went wrong (a
   * string), how many requests it completed (a number), or nothing for one.
   */
  const loop = async (load, pauseMs, once) => {
    while (left() > 0) {
      let outcome;
      try {
        outcome = await once();
      } catch (err) {
        outcome = err.message;
      }
      if (typeof outcome === 'string') fail(load, outcome);
      else done[load] += outcome ?? 1;
      await sleep(pauseMs * (0.5 + Math.random()));
    }
  };
  /** curl with -w code/size; returns `problem` text or undefined. */
  const fetchCheck = async (url, want, extra = []) => {
    const r = await client(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', ...extra, url], 60_000);
    const got = r.stdout.trim();
    return r.code === 0 && got === want ? undefined : `${url} ${extra.join(' ')}: curl exit ${r.code}, got "${got}", want "${want}" ${r.stderr.trim()}`;
  };

  const loops = [
    // perfdhcp in chunks of at most a minute, so its counts arrive as it goes.
    (async () => {
      while (left() > 5_000) {
        const seconds = Math.min(60, Math.floor(left() / 1000));
        const d = env.dhcp;
        const r = await runIn(env.perfNs, 'perfdhcp', ['-4', '-l', env.perfIf, '-r', String(d.rate), '-f', String(d.renewRate), '-F', String(d.releaseRate),
          '-R', String(d.clients), '-p', String(seconds), '-W', '1000000', env.server], (seconds + 30) * 1000);
        const stats = perfdhcpStats(r.stdout);
        const exchanges = ['DISCOVER-OFFER', 'REQUEST-ACK', 'REQUEST-ACK (renewal)'];
        if (!exchanges.every((e) => stats[e]) || !stats.RELEASE) { fail('dhcp', `perfdhcp exit ${r.code}: ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`); continue; }
        // Completed: leases granted, leases renewed, releases sent (RELEASE has no reply).
        done.dhcp += stats['REQUEST-ACK'].received + stats['REQUEST-ACK (renewal)'].received + stats.RELEASE.sent;
        const drops = exchanges.map((e) => stats[e].drops);
        if (drops.some((n) => n > 0)) fail('dhcp', `perfdhcp ${seconds} s: ${drops.join('/')} drops of ${exchanges.map((e) => stats[e].sent).join('/')} sent (${exchanges.join(', ')})`);
      }
    })(),
    loop('tftp', 1000, () => {
      const blksize = Math.random() < 0.5 ? ['--tftp-blksize', '1468'] : [];
      return client(['curl', '-sS', '-o', '/dev/null', '-w', '%{size_download}', ...blksize, `tftp://${env.server}/undionly.kpxe`], 60_000).then((r) =>
        r.code === 0 && Number(r.stdout) === env.kpxeSize ? undefined : `tftp ${blksize.join(' ')}: curl exit ${r.code}, ${r.stdout} bytes ${r.stderr.trim()}`);
    }),
    loop('ipxe', 500, async () => {
      // Mostly inventory nodes; sometimes a machine nobody knows.
      const mac = Math.random() < 0.9 ? pick(env.nodeMacs) : `52:54:00:ee:00:${String(Math.floor(Math.random() * 20)).padStart(2, '0')}`;
      const r = await client(['curl', '-sSf', `${env.httpUrl}/ipxe?mac=${mac}&arch=x86_64`], 30_000);
      return r.code === 0 && r.stdout.startsWith('#!ipxe') ? undefined : `ipxe ${mac}: curl exit ${r.code} ${r.stderr.trim()} ${r.stdout.slice(0, 80)}`;
    }),
    loop('assets', 3000, () => {
      const a = pick(env.assets);
      return fetchCheck(a.url, `200 ${a.size}`);
    }),
    loop('range', 2000, () => {
      const a = pick(env.assets);
      return Math.random() < 0.5 ? fetchCheck(a.url, '206 1000', ['-r', '1000-1999']) : fetchCheck(a.url, '206 4096', ['-r', '-4096']);
    }),
    loop('api', 3000, async () => {
      const r = await client(['curl', '-sSf', ...auth, `${env.adminUrl}/api/nodes`], 30_000);
      if (r.code !== 0) return `/api/nodes: curl exit ${r.code} ${r.stderr.trim()}`;
      const nodes = JSON.parse(r.stdout);
      return nodes.length === env.nodeMacs.length ? undefined : `/api/nodes lists ${nodes.length} nodes, want ${env.nodeMacs.length}`;
    }),
    loop('metrics', 5000, async () => {
      const r = await client(['curl', '-sSf', ...auth, `${env.adminUrl}/metrics`], 30_000);
      return r.code === 0 && r.stdout.includes('rackboot_dhcp_acks') ? undefined : `/metrics: curl exit ${r.code} ${r.stderr.trim()}`;
    }),
    // Two page-like watchers that open the admin event stream and drop it after 0.5-4 s.
    ...[0, 1].map(() => loop('sse', 500, async () => {
      const seconds = (0.5 + Math.random() * 3.5).toFixed(1);
      const r = await client(['curl', '-sSN', ...auth, '--max-time', seconds, `${env.adminUrl}/api/stream`], 30_000);
      // 28: curl's own --max-time, i.e. we dropped a stream that was still open.
      return r.code === 28 && r.stdout.startsWith('event: fragments\n') ? undefined : `/api/stream: curl exit ${r.code} ${r.stderr.trim()} ${r.stdout.slice(0, 80)}`;
    })),
    loop('bad-udp', 5000, async () => {
      const sends = [
        ...BAD_DATAGRAMS.dhcp.map((b) => `printf '${printfBytes(b)}' > /dev/udp/${env.server}/67`),
        ...BAD_DATAGRAMS.tftp.map((b) => `printf '${printfBytes(b)}' > /dev/udp/${env.server}/69`),
      ];
      const r = await client(['bash', '-c', sends.join('\n')], 10_000);
      return r.code === 0 ? sends.length : `bad datagrams: bash exit ${r.code} ${r.stderr.trim()}`;
    }),
    inventoryEdits(env, done, fail, left),
  ];
  return { done, errors, failures, stop: () => Promise.all(loops) };
}

/**
 * Once a minute, an edit of the inventory file: a good one (it must go live)
 * and a bad one (it must be rejected, the last good one staying live) in
 * turn, saved in place or by rename like different editors.
 */
async function inventoryEdits(env, done, fail, left) {
  const status = async () => {
    const r = await runIn(env.clientNs, 'curl', ['-sSfk', '-H', `authorization: Bearer ${env.token}`, `${env.adminUrl}/api/inventory`], 30_000);
    return r.code === 0 ? JSON.parse(r.stdout) : { curlError: `${r.code} ${r.stderr.trim()}` };
  };
  for (let k = 0; ; k++) {
    await sleep(Math.min(60_000, Math.max(0, left() - 10_000)));
    if (left() < 10_000) return;
    const before = await status();
    const good = k % 2 === 0;
    const text = good ? env.inventory.good(k) : env.inventory.bad();
    if (k % 4 < 2) writeFileSync(env.inventory.file, text);
    else (writeFileSync(`${env.inventory.file}.tmp`, text), renameSync(`${env.inventory.file}.tmp`, env.inventory.file));
    let now;
    for (let i = 0; i < 20; i++) {
      await sleep(250);
      now = await status();
      if (now.checkedAt !== before.checkedAt) break;
    }
    const live = now.nodes === env.nodeMacs.length;
    const ok = good ? now.ok && now.loadedAt !== before.loadedAt && live : !now.ok && now.errors?.length > 0 && now.loadedAt === before.loadedAt && live;
    if (ok) done.inventory++;
    else fail('inventory', `${good ? 'good' : 'bad'} edit ${k}: /api/inventory says ${JSON.stringify(now).slice(0, 250)}`);
  }
}
