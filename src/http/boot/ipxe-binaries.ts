// GET /ipxe/:file: the first-stage iPXE binaries from the TFTP root, read
// only, for UEFI HTTP boot clients (option 93 types 16 and 19) that DHCP
// points here. Same root-containment rules as /assets. An .efi binary goes
// out as `application/efi`, the media type UEFI HTTP boot defines for an
// EFI image: EDK2's HttpBootDxe decides what it downloaded by Content-Type
// first and falls back to the URL's extension only without one it knows.
// Content-Length is always sent: the firmware sizes its buffer from it.
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { resolveInside } from './assets.js';
import { PUBLIC } from '../access.js';
import { FileBodySender } from './file-body.js';

export function registerIpxeBinaries(app: FastifyInstance, ctx: HttpContext): void {
  const body = new FileBodySender(0);
  app.get('/ipxe/:file', PUBLIC, async (req, reply) => {
    const requested = (req.params as { file: string }).file;
    const file = await resolveInside(ctx.settings.tftp.root, requested);
    const st = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !st?.isFile()) return reply.code(404).send({ message: `no such boot binary: ${requested}` });
    reply.type(/\.efi$/i.test(file) ? 'application/efi' : 'application/octet-stream').header('content-length', st.size).header('last-modified', st.mtime.toUTCString());
    return body.send(reply, file, 0, st.size - 1, 'iPXE binary');
  });
}
