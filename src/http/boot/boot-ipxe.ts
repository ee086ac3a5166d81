// GET /boot.ipxe: the first script for every iPXE client (DHCP hands its URL
// to clients whose user class is iPXE). It only finds the per-machine script.
import type { FastifyInstance } from 'fastify';
import { chainScript } from '../../ipxe/scripts.js';
import type { HttpContext } from '../context.js';
import { PUBLIC } from '../access.js';

export function registerBootIpxe(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/boot.ipxe', PUBLIC, async (_req, reply) => {
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
    return chainScript(ctx.publicUrl);
  });
}
