// Per-machine timings, in seconds from power-on: first DHCP DISCOVER and
// first ACK (from the bridge capture), script and kernel fetched (from
// rackboot's request log), marker (from the serial console).
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeMac } from '../../src/inventory/mac.js';
import type { DhcpPacket, WirePacket } from './capture.js';
import { OUTPUT, type VmRun, type World } from './world.js';

export interface Timings {
  case: string;
  firmware: string;
  discover?: number;
  ack?: number;
  script?: number;
  kernel?: number;
  /** The kernel's first line on the serial console: what CLIENTS.md's reference figures measure. */
  running?: number;
  marker?: number;
}

export const TIMINGS_FILE = join(OUTPUT, 'timings.jsonl');

/** Reference figures from shared/pxe/CLIENTS.md (dnsmasq + a Python HTTP server, TCG): kernel running at. */
export const REFERENCE: Record<string, number> = { bios: 11.3, uefi: 24.3 };

interface HttpRequest { at: number; doneAt?: number; url: string; status?: number }

/** Requests from rackboot's fastify log, joined on reqId. */
export function httpRequests(world: World): HttpRequest[] {
  const byId = new Map<string, HttpRequest>();
  for (const l of world.logLines()) {
    const id = String(l.reqId ?? '');
    if (!id) continue;
    const req = l.req as { url?: string } | undefined;
    if (l.msg === 'incoming request' && req?.url) byId.set(id, { at: Number(l.time), url: req.url });
    if (l.msg === 'request completed') {
      const r = byId.get(id);
      if (r) (r.doneAt = Number(l.time), r.status = (l.res as { statusCode?: number } | undefined)?.statusCode);
    }
  }
  return [...byId.values()];
}

/** Everything the capture saw during one VM run. VMs run one at a time, so the window is theirs. */
export function wireDuring(world: World, run: VmRun): WirePacket[] {
  const end = run.doneAt ?? Date.now();
  return world.capture().filter((p) => p.at >= run.startedAt - 50 && p.at <= end + 50);
}

export function scriptRequests(world: World, run: VmRun): HttpRequest[] {
  return httpRequests(world).filter((r) => r.at >= run.startedAt && r.url.startsWith('/ipxe?') && normalizeMac(new URLSearchParams(r.url.slice(6)).get('mac') ?? '') === run.mac);
}

export function kernelRequests(world: World, run: VmRun): HttpRequest[] {
  return httpRequests(world).filter((r) => r.at >= run.startedAt && r.url.startsWith('/assets/') && r.url.endsWith('/kernel-amd64'));
}

export function timingsFor(caseName: string, world: World, run: VmRun): Timings {
  const s = (t: number | undefined) => (t === undefined ? undefined : Math.round((t - run.startedAt) / 100) / 10);
  const dhcp = wireDuring(world, run).filter((p): p is DhcpPacket => p.kind === 'dhcp' && p.mac === run.mac);
  const t: Timings = {
    case: caseName,
    firmware: run.firmware,
    discover: s(dhcp.find((p) => p.type === 1)?.at),
    ack: s(dhcp.find((p) => p.type === 5)?.at),
    script: s(scriptRequests(world, run)[0]?.doneAt),
    kernel: s(kernelRequests(world, run).find((r) => r.status === 200)?.doneAt),
    running: s(run.kernelRunningAt),
    marker: s(run.doneAt),
  };
  mkdirSync(OUTPUT, { recursive: true });
  appendFileSync(TIMINGS_FILE, JSON.stringify(t) + '\n');
  console.log(`[e2e timings] ${formatRow(t)}`);
  return t;
}

const cell = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(1)} s`);

function formatRow(t: Timings): string {
  return `| ${t.case} | ${t.firmware} | ${cell(t.discover)} | ${cell(t.ack)} | ${cell(t.script)} | ${cell(t.kernel)} | ${cell(t.running)} | ${cell(t.marker)} | ${REFERENCE[t.firmware] ? `${REFERENCE[t.firmware]} s` : '—'} |`;
}

/** The markdown table the e2e run prints at the end (and the README records). */
export function timingsTable(file = TIMINGS_FILE): string {
  if (!existsSync(file)) return '(no e2e timings recorded)';
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Timings);
  return [
    'Seconds from power-on (QEMU TCG, 512 MB). "kernel running": the kernel\'s first serial line. "marker": the stand-in took a lease (and fetched its config) and reported. Reference: kernel running with dnsmasq + a Python HTTP server, tuned (shared/pxe/CLIENTS.md).',
    '',
    '| case | firmware | first DISCOVER | ACK | script fetched | kernel fetched | kernel running | marker | reference: kernel running |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(formatRow),
  ].join('\n');
}
