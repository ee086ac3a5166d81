// The lifecycle JSON API: node detail, reimage and cancel, discovered
// machines, cluster status and credential downloads, boot-asset cache
// status. The page is built from the same view functions.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Reimager, ReimageError } from '../../lifecycle/reimage.js';
import { SharedStore } from '../../store/pg/shared-store.js';
import { kubeconfigFetchReason } from '../../talos/health.js';
import { adminAccess } from './auth.js';
import { assetsView, clusterView, discoveredListView, nodeDetailView } from './views.js';
import type { HttpContext } from '../context.js';
import { ADMIN, ADMIN_SECRET, actorOf } from '../access.js';

export function registerLifecycleApi(app: FastifyInstance, ctx: HttpContext): void {
  const reimager = () => (ctx.reimager ??= new Reimager(ctx.lifecycle.machine));

  app.get('/api/nodes/:name', ADMIN, async (req, reply) => {
    const d = nodeDetailView(ctx, (req.params as { name: string }).name);
    return d ?? reply.code(404).send({ message: 'no such node' });
  });
  app.get('/api/nodes/:name/console', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    if (!ctx.store.getNode(name)) return reply.code(404).send({ message: 'no such node' });
    return (ctx.console?.lines(name) ?? []).map((l) => ({ at: l.at, msg: l.msg, fields: l.fields }));
  });

  app.post('/api/nodes/:name/reimage', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 500) : 'operator request';
    try {
      // Reimaging the last etcd member needs `destroyEtcd: true` (the page's checkbox).
      const r = await reimager().reimage(name, reason, by(req), { destroyEtcd: body.destroyEtcd === true });
      return { node: r.node.name, state: r.node.state, reset: r.reset, error: r.error, ...(r.etcdDestroyed ? { etcdDestroyed: true } : {}) };
    } catch (err) {
      if (err instanceof ReimageError) return reply.code(err.status).send({ message: err.message });
      throw err;
    }
  });
  app.post('/api/nodes/:name/reimage/cancel', ADMIN, async (req, reply) => {
    try {
      const n = reimager().cancel((req.params as { name: string }).name, by(req));
      return { node: n.name, state: n.state };
    } catch (err) {
      if (err instanceof ReimageError) return reply.code(err.status).send({ message: err.message });
      throw err;
    }
  });

  app.get('/api/discovered/snippet', ADMIN, async (_req, reply) => reply.type('text/yaml; charset=utf-8').send(discoveredListView(ctx.store).snippet));
  app.get('/api/cluster', ADMIN, async () => clusterView(ctx));
  app.get('/api/assets', ADMIN, async () => assetsView(ctx));

  for (const file of ['kubeconfig', 'talosconfig'] as const) {
    app.get(`/api/cluster/${file}`, ADMIN_SECRET, async (_req, reply) => {
      const path = join(ctx.settings.dataDir, file);
      if (!existsSync(path)) return reply.code(404).send({ message: `${file} has not been written yet` });
      // branch pg-local: with a shared store, another appliance may have recorded an etcd loss since this copy was fetched.
      if (file === 'kubeconfig' && ctx.store instanceof SharedStore && kubeconfigFetchReason(ctx.store, path) === 'stale') {
        return reply.code(409).send({ message: 'this appliance\'s kubeconfig was fetched before the last etcd loss; the leading appliance fetches a new one once the cluster is healthy (or run rackboot kubeconfig --fetch here)' });
      }
      return reply
        .type('application/yaml')
        .header('content-disposition', `attachment; filename="${file}"`)
        .header('cache-control', 'no-store')
        .send(createReadStream(path));
    });
  }
}

function by(req: import('fastify').FastifyRequest): string {
  return actorOf(adminAccess(req));
}
