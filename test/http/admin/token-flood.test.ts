// 32 clients hammer the admin plane with wrong Bearer tokens from another
// process (as an attacker would: the flood's own work is not on our event
// loop). The boot plane's /healthz and ProxyDHCP must keep answering within 50 ms, and
// the operator's right token must still log in during the flood and after.
// (Before keyed hashes each wrong token was a 27 ms scrypt on the event loop.)
import { spawn } from 'node:child_process';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import dgram from 'node:dgram';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTlsMaterial } from '../../../src/http/admin/tls.js';
import { startDhcpService, type DhcpService } from '../../../src/dhcp/server.js';
import { Store } from '../../../src/store/store.js';
import { Lifecycle } from '../../../src/lifecycle/lifecycle.js';
import { ovmfProxyRequest } from '../../dhcp/fixtures.js';
import { inventoryOf, NODES, settingsWith } from '../../dhcp/context.js';
import { ADMIN_TOKEN, harness, type Harness } from './harness.js';

const CLIENTS = 32;
const FLOOD_MS = 3_000;

let h: Harness;
let adminPort: number;
let bootPort: number;
let dhcp: DhcpService;
let dhcpStore: Store;
let proxyPort: number;
let dhcpClient: dgram.Socket;

beforeAll(async () => {
  const probe = await harness();
  const tls = await adminTlsMaterial(probe.settings);
  await probe.close();
  h = await harness({ tls });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  await h.boot.listen({ host: '127.0.0.1', port: 0 });
  adminPort = (h.app.server.address() as { port: number }).port;
  bootPort = (h.boot.server.address() as { port: number }).port;
  // ProxyDHCP on loopback in the same process, as in the daemon: it shares the event loop with the admin plane.
  dhcpStore = new Store(':memory:');
  dhcpStore.syncInventory(inventoryOf(NODES));
  const base = 40000 + Math.floor(Math.random() * 20000);
  dhcp = await startDhcpService({
    settings: settingsWith({ mode: 'proxy', subnet: undefined }), store: dhcpStore, lifecycle: new Lifecycle(dhcpStore),
    log: pino({ level: 'silent' }), publicUrl: 'http://127.0.0.1:8080', provisioning: { iface: 'lo', address: '127.0.0.1' },
  }, { ports: { dhcp: base, proxy: base + 1 } });
  proxyPort = base + 1;
  dhcpClient = dgram.createSocket('udp4');
  await new Promise<void>((r) => dhcpClient.bind(0, '127.0.0.1', () => r()));
});
afterAll(async () => {
  dhcpClient?.close();
  await dhcp?.close();
  dhcpStore?.close();
  await h?.close();
});

/** Milliseconds from a ProxyDHCP REQUEST to its ACK. */
function proxyAckMs(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ProxyDHCP ACK within 2 s')), 2_000);
    dhcpClient.once('message', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    dhcpClient.send(ovmfProxyRequest('127.0.0.1', '127.0.0.1'), proxyPort, '127.0.0.1');
  });
}

/** The flood, in a child process: CLIENTS keep-alive connections, each sending wrong tokens back to back. */
function flood(port: number, ms: number): { done: Promise<Record<string, number>>; started: Promise<void> } {
  const script = `
    const https = require('node:https');
    const agent = new https.Agent({ keepAlive: true, maxSockets: ${CLIENTS}, rejectUnauthorized: false });
    const counts = {};
    const until = Date.now() + ${ms};
    let n = 0;
    const one = (i) => new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: ${port}, path: '/api/nodes', agent, headers: { authorization: 'Bearer wrong-' + i + '-' + (n++) } }, (res) => {
        counts[res.statusCode] = (counts[res.statusCode] || 0) + 1;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => { counts.error = (counts.error || 0) + 1; resolve(); });
      req.end();
    });
    const loop = async (i) => { while (Date.now() < until) await one(i); };
    process.stdout.write('go\\n');
    Promise.all(Array.from({ length: ${CLIENTS} }, (_, i) => loop(i))).then(() => { process.stdout.write(JSON.stringify(counts) + '\\n'); agent.destroy(); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let go: () => void;
  const started = new Promise<void>((r) => (go = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('go\n')) go();
  });
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    child.on('exit', () => {
      const last = out.trim().split('\n').pop()!;
      try { resolve(JSON.parse(last) as Record<string, number>); } catch { reject(new Error(`flood printed ${out}`)); }
    });
  });
  return { done, started };
}

const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });

function healthzMs(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: bootPort, path: '/healthz', agent: keepAlive }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    }).on('error', reject).end();
  });
}

function loginStatus(token: string): Promise<{ status: number; cookie: string }> {
  const body = `token=${encodeURIComponent(token)}&next=/ui`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port: adminPort, path: '/login', method: 'POST', rejectUnauthorized: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('a flood of wrong admin tokens', () => {
  it('keeps /healthz and ProxyDHCP within 50 ms and lets the right token log in during and after it', async () => {
    await healthzMs(); // the keep-alive connection is open before the flood
    const f = flood(adminPort, FLOOD_MS);
    await f.started;
    await new Promise((r) => setTimeout(r, 300));
    const samples: number[] = [];
    const acks: number[] = [];
    const logins: number[] = [];
    const end = Date.now() + FLOOD_MS - 800;
    while (Date.now() < end) {
      samples.push(await healthzMs());
      acks.push(await proxyAckMs());
      if (samples.length % 10 === 0) logins.push((await loginStatus(ADMIN_TOKEN)).status);
      await new Promise((r) => setTimeout(r, 20));
    }
    const counts = await f.done;
    const after = await loginStatus(ADMIN_TOKEN);

    samples.sort((a, b) => a - b);
    const p95 = samples[Math.floor(samples.length * 0.95)]!;
    // The flood ran on every connection and spent the failure budget; from then on each
    // wrong token waited a second for its 429, so 32 connections got about 32 answers a second.
    const answered = Object.entries(counts).filter(([k]) => k !== 'error').reduce((n, [, v]) => n + v, 0);
    expect(counts['429'] ?? 0, JSON.stringify(counts)).toBeGreaterThanOrEqual(CLIENTS);
    expect(counts['401'] ?? 0).toBeGreaterThanOrEqual(20);
    expect(answered).toBeLessThan(20 + CLIENTS * (FLOOD_MS / 1000 + 2) + 20);
    expect(counts['200'] ?? 0).toBe(0);
    expect(counts.error ?? 0).toBe(0);
    expect(samples.length).toBeGreaterThan(30);
    expect(p95, `healthz ms: median ${samples[samples.length >> 1]!.toFixed(1)}, p95 ${p95.toFixed(1)}, max ${samples.at(-1)!.toFixed(1)}`).toBeLessThan(50);
    acks.sort((a, b) => a - b);
    const ackP95 = acks[Math.floor(acks.length * 0.95)]!;
    expect(ackP95, `ProxyDHCP ACK ms: median ${acks[acks.length >> 1]!.toFixed(1)}, p95 ${ackP95.toFixed(1)}, max ${acks.at(-1)!.toFixed(1)}`).toBeLessThan(50);
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((s) => s === 303), `logins during the flood: ${logins.join(',')}`).toBe(true);
    expect(after.status).toBe(303);
    expect(after.cookie).toMatch(/rackboot_session=.*; Secure/);
  }, 30_000);
});
