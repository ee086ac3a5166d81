// GET /api/nodes and GET /api/events: what the store knows, as JSON.
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { discoveredView } from '../../lifecycle/discovery.js';
import { nodesView, powerLookup } from './views.js';
import { ADMIN } from '../access.js';

export function registerNodesApi(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/nodes', ADMIN, async () => nodesView(ctx.store, powerLookup(ctx)));

  app.get('/api/events', ADMIN, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 200 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 5000) return reply.code(400).send({ message: 'limit must be an integer from 1 to 5000' });
    if (q.node !== undefined && !ctx.store.getNode(q.node)) return reply.code(404).send({ message: `no such node: ${q.node}` });
    return ctx.store.events({ node: q.node, limit });
  });

  app.get('/api/discovered', ADMIN, async () => discoveredView(ctx.store));
}
