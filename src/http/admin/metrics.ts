// GET /metrics in the Prometheus text exposition format (version 0.0.4):
// nodes by state, reimages, bootstrap state, HTTP requests and bytes, the
// process's heap, and whatever the injected MetricsSources (DHCP, TFTP,
// console) count.
import type { FastifyInstance } from 'fastify';
import { NODE_STATES } from '../../lifecycle/states.js';
import { clusterView, stateCounts } from './views.js';
import type { HttpContext } from '../context.js';
import { METRICS } from '../access.js';
import { loopStats, STALL_MS } from '../../loop-watch.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../../settings/settings.js';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})?$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HTTP responses of both planes, counted for /metrics. */
export interface HttpCounters {
  requests: Map<string, number>;
  bytes: number;
}

const countersByContext = new WeakMap<HttpContext, HttpCounters>();

/** Counts `app`'s responses into the counters shared by every server of `ctx`. */
export function countResponses(app: FastifyInstance, ctx: HttpContext): void {
  let http = countersByContext.get(ctx);
  if (!http) countersByContext.set(ctx, (http = { requests: new Map(), bytes: 0 }));
  const counters = http;
  app.addHook('onResponse', async (req, reply) => {
    const key = `${req.method} ${reply.statusCode}`;
    counters.requests.set(key, (counters.requests.get(key) ?? 0) + 1);
    const len = Number(reply.getHeader('content-length'));
    if (Number.isFinite(len)) counters.bytes += len;
  });
}

export const METRICS_TOKEN_FILE = 'metrics-token';

/**
 * The scrape token: `metrics.token` in the settings, else the first line of
 * DATA_DIR/metrics-token (read on each scrape, so writing the file needs no
 * restart). Shorter than 16 characters counts as none.
 */
export function metricsScrapeToken(settings: Pick<Settings, 'dataDir' | 'metrics'>): string | undefined {
  let token = settings.metrics.token;
  if (token === undefined) {
    try {
      token = readFileSync(join(settings.dataDir, METRICS_TOKEN_FILE), 'utf8').split('\n')[0]!.trim();
    } catch {
      return undefined;
    }
  }
  return token.length >= 16 ? token : undefined;
}

export function registerMetrics(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/metrics', METRICS, async (_req, reply) => {
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]) => {
      lines.push(`# HELP rackboot_${name} ${help}`, `# TYPE rackboot_${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`rackboot_${name}${labels} ${v}`);
    };
    const counts = stateCounts(ctx.store);
    metric('nodes', 'gauge', 'Inventory nodes by lifecycle state.', NODE_STATES.map((s) => [`{state="${s}"}`, counts[s]]));
    const totals = ctx.store.readers.eventTotals();
    metric('reimages_total', 'counter', 'Reimages requested.', [['', totals.reimagesRequested]]);
    metric('node_failures_total', 'counter', 'Transitions into failed.', [['', totals.nodeFailures]]);
    metric('discovered_machines', 'gauge', 'Unknown machines that asked to boot.', [['', totals.discovered]]);
    const cluster = clusterView(ctx);
    const http = countersByContext.get(ctx) ?? { requests: new Map<string, number>(), bytes: 0 };
    metric('cluster_bootstrapped', 'gauge', '1 once etcd was bootstrapped.', [['', cluster.bootstrapped ? 1 : 0]]);
    metric('cluster_bootstrap_state', 'gauge', 'The bootstrap state, as a label.', [[`{state="${escapeLabel(cluster.bootstrap)}"}`, 1]]);
    metric('http_requests_total', 'counter', 'HTTP responses by method and status.', [...http.requests].map(([k, v]) => {
      const [method, code] = k.split(' ');
      return [`{method="${escapeLabel(method!)}",code="${code}"}`, v];
    }));
    metric('http_response_bytes_total', 'counter', 'HTTP response bytes with a known length.', [['', http.bytes]]);
    // The daemon's own memory, so a slow leak shows on a dashboard (and in bench/soak.mjs).
    const mem = process.memoryUsage();
    metric('process_heap_used_bytes', 'gauge', 'JavaScript heap in use.', [['', mem.heapUsed]]);
    metric('process_external_bytes', 'gauge', 'Memory outside the JavaScript heap held by JavaScript objects (Buffers).', [['', mem.external]]);
    // Stalls and CPU, for the bench's reload and storm breakdowns (src/loop-watch.ts).
    const loop = loopStats();
    metric('process_cpu_seconds_total', 'counter', 'User and system CPU time of the daemon.', [['', loop.cpuSeconds]]);
    metric('event_loop_delay_max_seconds', 'gauge', 'The longest event-loop delay in the last 10 s.', [['', loop.maxDelay10s]]);
    metric('event_loop_stalls_total', 'counter', `Seconds in which the event loop was held for more than ${STALL_MS} ms.`, [['', loop.stalls]]);
    const seen = new Set<string>();
    for (const source of ctx.metricsSources ?? []) {
      for (const [key, value] of Object.entries(source.metrics())) {
        if (!NAME.test(key) || !Number.isFinite(value)) continue;
        const base = key.split('{')[0]!;
        if (!seen.has(base)) {
          seen.add(base);
          lines.push(`# TYPE rackboot_${base} ${base.endsWith('_total') ? 'counter' : 'gauge'}`);
        }
        lines.push(`rackboot_${key} ${value}`);
      }
    }
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(lines.join('\n') + '\n');
  });
}

/**
 * Turns a service's nested counters into flat metric names: numbers under
 * `totals` become `<prefix>_<name>_total` counters, other numbers gauges.
 * Arrays (per-client detail) are left to the JSON API.
 */
export function flattenMetrics(prefix: string, value: unknown, out: Record<string, number> = {}, counter = false): Record<string, number> {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) out[counter ? `${prefix}_total` : prefix] = value;
    return out;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [key, v] of Object.entries(value)) {
    const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_]/g, '_');
    if (key === 'totals') flattenMetrics(prefix, v, out, true);
    else flattenMetrics(`${prefix}_${snake}`, v, out, counter);
  }
  return out;
}
