// GET /config?mac=…&token=…[&uuid=…]: the pull path. A node booted with
// talos.config=<this URL> fetches its machine config here. Who may have it
// is decided by the boot-access policy (lifecycle/boot-access.ts): the
// machine itself, in its provisioning window, once per PXE boot. Every
// refusal is an event with its reason; the reply says only as much as a
// stranger may know.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeMac } from '../../inventory/mac.js';
import { BootAccess, peerAddress } from '../../lifecycle/boot-access.js';
import { KernelNeighbours } from '../../net/neighbours.js';
import { configForNode, resolvedInstallDisk } from '../../talos/config/node-config.js';
import { loadSecrets } from '../../talos/secrets.js';
import type { HttpContext } from '../context.js';
import { PUBLIC } from '../access.js';
import { recordApplied } from '../../day2/applied.js';

/** The boot-access policy over this context's store, settings and neighbour table. */
export function bootAccessFor(ctx: HttpContext): BootAccess {
  const kernel = new KernelNeighbours({ iface: () => ctx.settings.interface });
  return new BootAccess({
    store: ctx.store,
    lifecycle: ctx.lifecycle,
    dhcpMode: () => ctx.settings.dhcp.mode,
    identity: () => ctx.requesterIdentity ?? kernel,
  });
}

function refuse(req: FastifyRequest, reply: FastifyReply, code: 400 | 403 | 404 | 503, reason: string, fields: Record<string, unknown>) {
  req.log.warn({ ...fields, from: peerAddress(req.ip), status: code }, `machine config refused: ${reason}`);
  return reply.code(code).type('text/plain; charset=utf-8').send(code === 403 ? 'forbidden\n' : code === 404 ? 'not found\n' : `${reason}\n`);
}

export function registerMachineConfig(app: FastifyInstance, ctx: HttpContext): void {
  const access = bootAccessFor(ctx);
  app.get('/config', PUBLIC, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const mac = normalizeMac(str(q.mac) ?? '');
    if (!mac) return refuse(req, reply, 400, 'query parameter mac must be a MAC address', { mac: q.mac });
    const node = ctx.store.nodeByMac(mac);
    if (!node) return refuse(req, reply, 404, `unknown MAC ${mac}`, { mac });
    const from = peerAddress(req.ip);
    const token = str(q.token);
    const why = access.configRefusal(node, from, { uuid: str(q.uuid)?.toLowerCase(), token });
    if (why) return refuse(req, reply, 403, why, { mac, node: node.name });
    const inv = ctx.inventory();
    if (!inv) return refuse(req, reply, 503, 'no valid inventory loaded', { mac, node: node.name });
    let text: string;
    try {
      text = configForNode(inv.cluster, node.spec, { settings: ctx.settings, publicUrl: ctx.publicUrl, secrets: loadSecrets(ctx.settings.dataDir), installDiskOf: resolvedInstallDisk(ctx.store) });
    } catch (err) {
      const reason = `cannot render the config: ${(err as Error).message}`;
      ctx.store.appendEvent({ node: node.name, mac, kind: 'config', message: reason });
      return refuse(req, reply, 503, reason, { mac, node: node.name });
    }
    // Spent only now: a render failure leaves the node free to retry with the same token.
    if (!access.spend(node, token!, from)) return refuse(req, reply, 403, 'the config for this boot was already served', { mac, node: node.name });
    // Pull: the node applies what it fetched; serving it is the last rackboot sees of that.
    recordApplied(ctx.store, node.name, text, { via: 'pull' });
    const detail = `machine config served over HTTP to ${from}`;
    if (node.state === 'booting' || node.state === 'maintenance') ctx.lifecycle.observe(node.name, { kind: 'config-served', detail });
    else ctx.store.appendEvent({ node: node.name, mac, kind: 'config', message: `${detail} (state ${node.state})` });
    req.log.info({ mac, node: node.name, from, bytes: Buffer.byteLength(text) }, 'machine config served');
    return reply.type('text/yaml; charset=utf-8').header('cache-control', 'no-store').send(text);
  });
}
