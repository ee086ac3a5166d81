// The iPXE script for an unknown machine when discovery.commission is on:
// the cluster's Talos kernel and initramfs with no talos.config=, so the
// machine sits in maintenance mode and rackboot reads its hardware
// (src/talos/commission.ts). Nothing here can install it: no config URL, no
// token, no node record; only the discovered row and its commissioning row.
import type { FastifyRequest } from 'fastify';
import { commissionScript } from '../../ipxe/scripts.js';
import { recordCommissionBoot } from '../../store/discovered-hardware.js';
import { kernelArgs, kernelLogTarget } from '../../talos/kernel-args.js';
import type { HttpContext } from '../context.js';
import { cachedBootAssets } from './cached-assets.js';

/** The commissioning script, or a reason it cannot be served (the caller then gives the unknown-machine script). */
export function commissionBootScript(ctx: HttpContext, req: FastifyRequest, mac: string, arch: 'amd64' | 'arm64'): { script: string } | { why: string } {
  const inv = ctx.inventory();
  if (!inv) return { why: 'no valid inventory loaded yet (the Talos version and schematic come from it)' };
  const assets = cachedBootAssets(ctx, inv, arch);
  if ('missing' in assets) return { why: assets.missing };
  const version = assets.version;
  const args = kernelArgs({
    talosVersion: version, arch, consoles: ctx.settings.talos.consoles,
    schematicArgs: inv.cluster.schematic.extraKernelArgs, settingsArgs: ctx.settings.talos.extraKernelArgs,
    // Deliberately no configUrl: a commissioned machine must never find a config.
    kernelLogUrl: kernelLogTarget(ctx.settings.console, ctx.publicUrl),
  });
  recordCommissionBoot(ctx.store, mac, Date.now());
  ctx.store.appendEvent({ mac, kind: 'http', message: `commissioning ${mac}: served Talos ${version} (${arch}) maintenance mode with no config, to read its hardware` });
  req.log.info({ mac, arch }, 'unknown machine: commissioning boot served');
  return {
    script: commissionScript({
      mac, talosVersion: version, kernelArgs: args,
      kernelUrl: assets.kernelUrl, initrdUrl: assets.initrdUrl,
    }),
  };
}
