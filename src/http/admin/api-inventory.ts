// GET /api/inventory: is the live inventory the file on disk, and if not, why.
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { ADMIN } from '../access.js';

export function registerInventoryApi(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/inventory', ADMIN, async () => {
    const s = ctx.inventoryStatus();
    return { ok: s.ok, file: s.file, errors: s.errors, loadedAt: s.loadedAt, checkedAt: s.checkedAt, nodes: ctx.inventory()?.nodes.length ?? 0 };
  });
}
