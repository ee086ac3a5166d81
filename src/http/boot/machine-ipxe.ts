// GET /ipxe?mac=…&uuid=…&arch=…&serial=…: the per-machine script. What the
// machine gets is decided by the lifecycle module alone: install (marked in
// the store), local disk, or "unknown machine, retry later". An inventory
// node's script goes only to that machine (lifecycle/boot-access.ts): anyone
// else gets 403 and moves nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeMac } from '../../inventory/mac.js';
import { errorScript, installScript, localDiskScript, unknownMachineScript } from '../../ipxe/scripts.js';
import { kernelArgs, kernelLogTarget } from '../../talos/kernel-args.js';
import type { HttpContext } from '../context.js';
import { bootAccessFor } from './machine-config.js';
import { commissionBootScript } from './commission-ipxe.js';
import { cachedBootAssets } from './cached-assets.js';
import { peerAddress } from '../../lifecycle/boot-access.js';
import { isStoreWriteError, STORE_UNWRITABLE } from '../../store/errors.js';
import { PUBLIC } from '../access.js';

/** iPXE's ${buildarch} → Talos's arch. BIOS undionly runs as i386 even on x86_64 machines. */
export function talosArch(buildarch: string | undefined): 'amd64' | 'arm64' | undefined {
  if (!buildarch || buildarch === 'x86_64' || buildarch === 'i386' || buildarch === 'amd64') return 'amd64';
  if (buildarch === 'arm64' || buildarch === 'aarch64') return 'arm64';
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface MachineQuery {
  mac: string;
  arch: 'amd64' | 'arm64';
  /** iPXE's ${buildarch} as sent (x86_64, i386, arm64), for the record. */
  buildarch: string;
  uuid?: string;
}

/** Validates the query iPXE sends. Values are network input: only known shapes pass. */
export function parseMachineQuery(q: Record<string, unknown>): MachineQuery | { error: string } {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const mac = normalizeMac(str(q.mac) ?? '');
  if (!mac) return { error: 'query parameter mac must be a MAC address' };
  const buildarch = str(q.arch) || 'x86_64';
  const arch = talosArch(buildarch);
  if (!arch) return { error: `unsupported arch ${JSON.stringify(q.arch)}` };
  const rawUuid = str(q.uuid)?.toLowerCase();
  const uuid = rawUuid && UUID.test(rawUuid) ? rawUuid : undefined;
  return { mac, arch, buildarch, uuid };
}

export function registerMachineIpxe(app: FastifyInstance, ctx: HttpContext): void {
  const access = bootAccessFor(ctx);
  app.get('/ipxe', PUBLIC, async (req, reply) => {
    try {
      return await machineScript(req, reply);
    } catch (err) {
      if (!isStoreWriteError(err)) throw err;
      // A machine must not fall through to its next boot device because our
      // disk is full: it waits and asks again, and nothing was recorded.
      req.log.error({ err }, STORE_UNWRITABLE);
      const q = parseMachineQuery(req.query as Record<string, unknown>);
      const self = 'error' in q ? `${ctx.publicUrl}/boot.ipxe` : `${ctx.publicUrl}/ipxe?mac=${q.mac}&arch=${q.buildarch}${q.uuid ? `&uuid=${q.uuid}` : ''}`;
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(errorScript(`${STORE_UNWRITABLE}; retrying`, self));
    }
  });

  async function machineScript(req: FastifyRequest, reply: FastifyReply): Promise<string | FastifyReply> {
    const parsed = parseMachineQuery(req.query as Record<string, unknown>);
    if ('error' in parsed) return reply.code(400).send({ message: parsed.error });
    const { mac, arch, buildarch, uuid } = parsed;
    const self = `${ctx.publicUrl}/ipxe?mac=${mac}&arch=${buildarch}${uuid ? `&uuid=${uuid}` : ''}`;
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
    const from = peerAddress(req.ip);
    const known = ctx.store.nodeByMac(mac);
    if (known) {
      const why = access.scriptRefusal(known, from);
      if (why) {
        req.log.warn({ mac, node: known.name, from, status: 403 }, `iPXE script refused: ${why}`);
        return reply.code(403).send('forbidden\n');
      }
    }

    const action = ctx.lifecycle.scriptRequested({ mac, source: 'http', uuid, arch: buildarch });
    if (action.kind === 'unknown') {
      if (ctx.settings.discovery.commission) {
        const c = commissionBootScript(ctx, req, mac, arch);
        if ('script' in c) return c.script;
        req.log.warn({ mac }, `commissioning not possible: ${c.why}`);
      }
      req.log.info({ mac, uuid, arch: buildarch }, 'unknown machine asked for its script');
      return unknownMachineScript(mac, self);
    }
    const node = action.node;
    if (action.kind === 'local-disk') {
      ctx.lifecycle.localBootServed(node, `iPXE script: boot from local disk (${action.reason})`);
      return localDiskScript(node.name, mac, action.reason);
    }

    const inv = ctx.inventory();
    if (!inv) return errorScript('no valid inventory loaded yet', self);
    const assets = cachedBootAssets(ctx, inv, arch);
    if ('missing' in assets) {
      const message = `${assets.missing}; run rackboot assets fetch`;
      req.log.warn({ node: node.name }, message);
      ctx.store.appendEvent({ node: node.name, mac, kind: 'http', message });
      return errorScript(message, self);
    }
    const version = assets.version;
    const spec = node.spec;
    const args = kernelArgs({
      talosVersion: version,
      arch,
      consoles: ctx.settings.talos.consoles,
      schematicArgs: inv.cluster.schematic.extraKernelArgs,
      settingsArgs: ctx.settings.talos.extraKernelArgs,
      // The token proves a config fetch comes from the machine that got this script, this boot.
      configUrl: spec.configMode === 'pull' ? `${ctx.publicUrl}/config?mac=${mac}&token=${access.issueToken(node, from)}` : undefined,
      kernelLogUrl: kernelLogTarget(ctx.settings.console, ctx.publicUrl),
    });
    // The script leaves once the move to booting is on disk; the disk's flush does not hold the other requests.
    await ctx.store.commitThenFlush(() => ctx.lifecycle.installBootServed(node, `iPXE script: install Talos ${version} (${arch}, ${spec.configMode})`));
    return installScript({
      nodeName: node.name,
      mac,
      talosVersion: version,
      kernelUrl: assets.kernelUrl,
      initrdUrl: assets.initrdUrl,
      kernelArgs: args,
    });
  }
}
