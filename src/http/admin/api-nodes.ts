// GET /api/nodes (paginated) and GET /api/events: what the store knows, as JSON.
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { discoveredView } from '../../lifecycle/discovery.js';
import { powerLookup } from './views.js';
import { nodeListing, parseNodeQuery } from './overview.js';
import { ADMIN } from '../access.js';

export function registerNodesApi(app: FastifyInstance, ctx: HttpContext): void {
  // One page at a time (?state=&q=&page=&pageSize=), with the total that matched and counts per state.
  app.get('/api/nodes', ADMIN, async (req, reply) => {
    const q = parseNodeQuery(req.query as Record<string, unknown>);
    if (!q.ok) return reply.code(400).send({ message: q.error });
    const p = nodeListing(ctx.store, q.query, powerLookup(ctx));
    return { total: p.total, page: p.query.page, pageSize: p.query.pageSize, pages: p.pages, counts: p.counts, nodes: p.nodes };
  });

  app.get('/api/events', ADMIN, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 200 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 5000) return reply.code(400).send({ message: 'limit must be an integer from 1 to 5000' });
    if (q.node !== undefined && !ctx.store.getNode(q.node)) return reply.code(404).send({ message: `no such node: ${q.node}` });
    return ctx.store.events({ node: q.node, limit });
  });

  app.get('/api/discovered', ADMIN, async () => discoveredView(ctx.store));
}
