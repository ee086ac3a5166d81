// GET /ipxe?mac=…&uuid=…&arch=…&serial=…: the per-machine script. What the
// machine gets is decided by the lifecycle module alone: install (marked in
// the store), local disk, or "unknown machine, retry later".
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { normalizeMac } from '../inventory/mac.js';
import { errorScript, installScript, localDiskScript, unknownMachineScript } from '../ipxe/scripts.js';
import { schematicId } from '../factory/schematic.js';
import { kernelArgs } from '../talos/kernel-args.js';
import type { HttpContext } from './context.js';

/** iPXE's ${buildarch} → Talos's arch. BIOS undionly runs as i386 even on x86_64 machines. */
export function talosArch(buildarch: string | undefined): 'amd64' | 'arm64' | undefined {
  if (!buildarch || buildarch === 'x86_64' || buildarch === 'i386' || buildarch === 'amd64') return 'amd64';
  if (buildarch === 'arm64' || buildarch === 'aarch64') return 'arm64';
  return undefined;
}

/** talos.logging.kernel target: the host nodes reach us at, on the console receiver's UDP port. */
export function kernelLogUrl(publicUrl: string, port: number): string {
  return `udp://${new URL(publicUrl).hostname}:${port}/`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function registerMachineIpxe(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/ipxe', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const mac = normalizeMac(q.mac ?? '');
    if (!mac) return reply.code(400).send({ message: 'query parameter mac must be a MAC address' });
    const arch = talosArch(q.arch);
    if (!arch) return reply.code(400).send({ message: `unsupported arch ${JSON.stringify(q.arch)}` });
    const uuid = q.uuid && UUID.test(q.uuid.toLowerCase()) ? q.uuid.toLowerCase() : undefined;
    const self = `${ctx.publicUrl}/ipxe?mac=${mac}&arch=${q.arch ?? 'x86_64'}${uuid ? `&uuid=${uuid}` : ''}`;
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');

    const action = ctx.lifecycle.scriptRequested({ mac, source: 'http', uuid, arch: q.arch, relay: undefined });
    if (action.kind === 'unknown') {
      req.log.info({ mac, uuid, arch: q.arch }, 'unknown machine asked for its script');
      return unknownMachineScript(mac, self);
    }
    const node = action.node;
    if (action.kind === 'local-disk') {
      ctx.lifecycle.localBootServed(node, `iPXE script: boot from local disk (${action.reason})`);
      return localDiskScript(node.name, mac, action.reason);
    }

    const inv = ctx.inventory();
    if (!inv) return errorScript('no valid inventory loaded yet', self);
    const schematic = schematicId(inv.cluster.schematic);
    const version = inv.cluster.talosVersion;
    const dir = `${schematic}/${version}`;
    const kernel = `kernel-${arch}`;
    const initrd = `initramfs-${arch}.xz`;
    if (!existsSync(join(ctx.settings.assetsDir, dir, kernel)) || !existsSync(join(ctx.settings.assetsDir, dir, initrd))) {
      const message = `boot assets for Talos ${version} ${arch} (schematic ${schematic}) are not cached; run rackboot assets fetch`;
      req.log.warn({ node: node.name }, message);
      ctx.store.appendEvent({ node: node.name, mac, kind: 'http', message });
      return errorScript(message, self);
    }
    const spec = node.spec;
    const args = kernelArgs({
      talosVersion: version,
      arch,
      consoles: ctx.settings.talos.consoles,
      schematicArgs: inv.cluster.schematic.extraKernelArgs,
      settingsArgs: ctx.settings.talos.extraKernelArgs,
      configUrl: spec.configMode === 'pull' ? `${ctx.publicUrl}/config?mac=${mac}` : undefined,
      kernelLogUrl: ctx.settings.console.enabled ? kernelLogUrl(ctx.publicUrl, ctx.settings.console.port) : undefined,
    });
    ctx.lifecycle.installBootServed(node, `iPXE script: install Talos ${version} (${arch}, ${spec.configMode})`);
    return installScript({
      nodeName: node.name,
      mac,
      talosVersion: version,
      kernelUrl: `${ctx.publicUrl}/assets/${dir}/${kernel}`,
      initrdUrl: `${ctx.publicUrl}/assets/${dir}/${initrd}`,
      kernelArgs: args,
    });
  });
}
