// Day-2 config per node (src/day2/): GET the plan (Talos's dry-run diff,
// redacted), POST apply (admin, CSRF like every state-changing admin
// request; the actor is recorded on the node's events).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Day2Unavailable } from '../../day2/service.js';
import type { HttpContext } from '../context.js';
import { ADMIN } from '../access.js';
import { adminAccess } from './auth.js';

const actorOf = (req: FastifyRequest) => (adminAccess(req).via === 'bearer' ? 'admin-api' : 'admin-page');

export function registerDay2Api(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/nodes/:name/plan', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    if (!ctx.store.getNode(name)) return reply.code(404).send({ message: 'no such node' });
    if (!ctx.day2) return reply.code(503).send({ message: 'day-2 changes are not available in this process' });
    try {
      return await ctx.day2.plan(name);
    } catch (err) {
      if (err instanceof Day2Unavailable) return reply.code(503).send({ message: err.message });
      throw err;
    }
  });

  app.post('/api/nodes/:name/apply', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const node = ctx.store.getNode(name);
    if (!node) return reply.code(404).send({ message: 'no such node' });
    if (!ctx.day2) return reply.code(503).send({ message: 'day-2 changes are not available in this process' });
    const actor = actorOf(req);
    ctx.store.appendEvent({ node: name, mac: node.mac, kind: 'day2', message: `config apply requested by ${actor}`, data: { actor } });
    try {
      const outcomes = await ctx.day2.apply(name, actor);
      const mine = outcomes.find((o) => o.node === name);
      if (!mine) return reply.code(409).send({ message: `${name} is ${node.state}: only installed nodes take a config change` });
      return mine;
    } catch (err) {
      if (err instanceof Day2Unavailable) return reply.code(503).send({ message: err.message });
      throw err;
    }
  });
}
