// GET /uki/<mac>.efi: the Image Factory UKI of an httpBoot: uki node
// (Secure Boot UKI when secureBoot: true), the URL DHCP sends that node's
// UEFI HTTP-boot firmware (src/dhcp/boot-file.ts). The firmware boots it with
// no iPXE, so this fetch is the network boot: like the iPXE script it moves
// the node to booting (or, after an install, to installed and away from
// the installer), and it goes only to the machine itself. Served whole, as
// `application/efi` with Content-Length up front (EDK2's HttpBootDxe sizes
// its buffer from it and takes the image type from the media type).
import { stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeMac } from '../../inventory/mac.js';
import { ukiInCache } from '../../factory/uki.js';
import { peerAddress } from '../../lifecycle/boot-access.js';
import { recordUkiFetch } from '../../store/uki-fetches.js';
import type { HttpContext } from '../context.js';
import { PUBLIC } from '../access.js';
import { bootAccessFor } from './machine-config.js';
import { FileBodySender } from './file-body.js';

export function registerUki(app: FastifyInstance, ctx: HttpContext): void {
  const access = bootAccessFor(ctx);
  const body = new FileBodySender(0);
  // HEAD is answered by its own handler so that a size probe moves nothing.
  app.route({ method: ['GET', 'HEAD'], url: '/uki/:file', ...PUBLIC, exposeHeadRoute: false, handler: (req, reply) => serve(req, reply) });

  async function serve(req: FastifyRequest, reply: FastifyReply) {
    const requested = (req.params as { file: string }).file;
    const mac = /^(.+)\.efi$/.exec(requested)?.[1];
    const normal = mac ? normalizeMac(mac) : undefined;
    if (!normal) return reply.code(404).send({ message: `no such UKI: ${requested} (wants /uki/<mac>.efi)` });
    const known = ctx.store.nodeByMac(normal);
    if (!known || known.spec.httpBoot !== 'uki') return reply.code(404).send({ message: `${normal} is not an httpBoot: uki node` });
    const from = peerAddress(req.ip);
    const why = access.scriptRefusal(known, from);
    if (why) {
      req.log.warn({ mac: normal, node: known.name, from, status: 403 }, `UKI refused: ${why}`);
      return reply.code(403).send({ message: 'forbidden' });
    }
    const uki = ukiInCache(ctx.settings.assetsDir, ctx.inventory(), known.spec);
    if ('why' in uki) {
      ctx.store.appendEvent({ node: known.name, mac: normal, kind: 'http', message: `UKI not served: ${uki.why}` });
      return reply.code(404).send({ message: uki.why });
    }
    // As the iPXE script does: an install that rebooted into the network boot is finished. A HEAD (size probe) moves nothing.
    const action = req.method === 'HEAD' ? ctx.lifecycle.bootActionForMac(normal) : ctx.lifecycle.scriptRequested({ mac: normal, source: 'http', arch: known.spec.arch ?? 'amd64' });
    if (action.kind !== 'install') {
      const reason = action.kind === 'local-disk' ? action.reason : 'not in the inventory';
      if (req.method === 'GET') ctx.store.appendEvent({ node: known.name, mac: normal, kind: 'http', message: `UKI not served: boots from its disk (${reason})` });
      // 404: the firmware moves on to its next boot option, the disk.
      return reply.code(404).send({ message: `boots from its disk (${reason})` });
    }
    const st = await stat(uki.path);
    reply.type('application/efi').header('content-length', st.size).header('last-modified', st.mtime.toUTCString()).header('cache-control', 'no-store');
    if (req.method === 'HEAD') return reply.send();
    // As the iPXE script: the body leaves once the move and the fetch record are on disk, without holding the loop for it.
    await ctx.store.commitThenFlush(() => {
      const node = ctx.lifecycle.installBootServed(action.node, `UEFI HTTP boot: ${uki.name} served (Talos ${uki.version}, schematic ${uki.schematic})`);
      recordUkiFetch(ctx.store, { node: node.name, mac: normal, name: uki.name, servedAt: Date.now(), servedTo: from }, node.stateSince);
    });
    return body.send(reply, uki.path, 0, st.size - 1, 'UKI');
  }
}
