// GET /api/stream: Server-Sent Events for the page. A shared poller watches
// a cheap fingerprint of the store (last event id, cluster state, discovered
// machines, inventory check time, asset cache) and, when it moves, every
// open stream gets freshly rendered fragments. Polling the store rather
// than hooking writers also catches `rackboot reimage` run from a shell.
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { HttpContext } from '../context.js';
import type { ConsoleLine } from '../../console/buffer.js';
import { nodeFragments, overviewFragments } from './pages.js';
import { overviewData } from './page-routes.js';
import { assetsView, consoleSource, nodeLiveView } from './views.js';
import { ADMIN } from '../access.js';
import { parseNodeQuery } from './overview.js';

class ChangeFeed extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private last = '';

  constructor(private readonly ctx: HttpContext, private readonly intervalMs: number) {
    super();
    this.setMaxListeners(0);
  }

  fingerprint(): string {
    const stored = this.ctx.store.readers.changeMark();
    const view = assetsView(this.ctx);
    const assets = [...view.files.map((f) => f.bytes ?? '-'), ...view.images.map((i) => (i.present ? 1 : 0))].join(',');
    return `${stored}|${this.ctx.inventoryStatus().checkedAt}|${assets}|${this.ctx.power?.version ?? 0}`;
  }

  subscribe(fn: () => void): () => void {
    this.on('change', fn);
    if (!this.timer) {
      this.last = this.fingerprint();
      this.timer = setInterval(() => {
        try {
          const now = this.fingerprint();
          if (now !== this.last) (this.last = now), this.emit('change');
        } catch { /* the store is closing */ }
      }, this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.off('change', fn);
      if (this.listenerCount('change') === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function registerStream(app: FastifyInstance, ctx: HttpContext, opts: { intervalMs?: number } = {}): void {
  const feed = new ChangeFeed(ctx, opts.intervalMs ?? 500);
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    feed.stop();
    for (const res of open) res.end();
  });

  app.get('/api/stream', ADMIN, (req, reply) => {
    const nodeName = (req.query as Record<string, string | undefined>).node;
    if (nodeName !== undefined && !ctx.store.getNode(nodeName)) return reply.code(404).send({ message: `no such node: ${nodeName}` });
    // The overview's stream renders the page the browser shows: same filter, search and page.
    const q = parseNodeQuery(req.query as Record<string, unknown>);
    if (!q.ok) return reply.code(400).send({ message: q.error });
    const fragments = () => {
      if (nodeName === undefined) return overviewFragments(overviewData(ctx, q.query));
      const d = nodeLiveView(ctx, nodeName);
      return d ? nodeFragments(d.node, d.events) : {};
    };
    // HEAD gets the head of a stream, not a stream that never ends.
    if (req.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').send();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    open.add(res);
    send(res, 'fragments', fragments());
    const unsubscribe = feed.subscribe(() => send(res, 'fragments', fragments()));
    const onLine = (node: string, line: ConsoleLine) => {
      if (node === nodeName) send(res, 'console', { at: line.at, msg: line.msg, ...consoleSource(line) });
    };
    ctx.console?.on('line', onLine);
    // Comments keep proxies and the server's idle timeout from closing a quiet stream.
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      ctx.console?.off('line', onLine);
      open.delete(res);
    });
  });
}
