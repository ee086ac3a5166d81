// GET /config?mac=…[&uuid=…]: the pull path. A node booted with
// talos.config=<this URL> fetches its machine config here. It gets its own
// config and nobody else's: only while the lifecycle says it is in its
// provisioning window, and, when DHCP is ours (mode full), only from the
// address its MAC holds a bound lease for. Every refusal is logged with its
// reason; the reply says only as much as a stranger may know.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeMac } from '../../inventory/mac.js';
import { boundLeaseAddress } from '../../store/bound-lease.js';
import { nodeConfigText } from '../../talos/config/render.js';
import { loadSecrets } from '../../talos/secrets.js';
import type { NodeRecord } from '../../store/store.js';
import type { HttpContext } from '../context.js';
import { PUBLIC } from '../access.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** An IPv4 peer may show up as ::ffff:a.b.c.d on a dual-stack socket. */
function peerAddress(req: FastifyRequest): string {
  return req.ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

function refuse(req: FastifyRequest, reply: FastifyReply, code: 400 | 403 | 404 | 503, reason: string, fields: Record<string, unknown>) {
  req.log.warn({ ...fields, from: peerAddress(req), status: code }, `machine config refused: ${reason}`);
  return reply.code(code).type('text/plain; charset=utf-8').send(code === 403 ? 'forbidden\n' : code === 404 ? 'not found\n' : `${reason}\n`);
}

/** Why this request may not have the node's config, or undefined when it may. */
function refusal(ctx: HttpContext, node: NodeRecord, from: string, uuid: string | undefined): string | undefined {
  if (!ctx.lifecycle.inProvisioningWindow(node)) {
    return `node ${node.name} is outside its provisioning window (state ${node.state}, ${node.markedForInstall ? 'marked' : 'not marked'} for install)`;
  }
  if (uuid && uuid !== ZERO_UUID && node.uuid && uuid !== node.uuid) return `node ${node.name}: uuid ${uuid} does not match the inventory's ${node.uuid}`;
  if (ctx.settings.dhcp.mode === 'full') {
    const leased = boundLeaseAddress(ctx.store.db, node.mac);
    if (!leased) return `node ${node.name} (${node.mac}) holds no bound lease`;
    if (leased !== from) return `request from ${from}, but ${node.mac} is leased ${leased}`;
  }
  return undefined;
}

export function registerMachineConfig(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/config', PUBLIC, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const mac = normalizeMac(q.mac ?? '');
    if (!mac) return refuse(req, reply, 400, 'query parameter mac must be a MAC address', { mac: q.mac });
    const node = ctx.store.nodeByMac(mac);
    if (!node) return refuse(req, reply, 404, `unknown MAC ${mac}`, { mac });
    const from = peerAddress(req);
    const why = refusal(ctx, node, from, q.uuid?.toLowerCase());
    if (why) {
      ctx.store.appendEvent({ node: node.name, mac, kind: 'config', message: `machine config refused: ${why}` });
      return refuse(req, reply, 403, why, { mac, node: node.name });
    }
    const inv = ctx.inventory();
    if (!inv) return refuse(req, reply, 503, 'no valid inventory loaded', { mac, node: node.name });
    let text: string;
    try {
      text = nodeConfigText({ cluster: inv.cluster, node: node.spec, secrets: loadSecrets(ctx.settings.dataDir), settings: ctx.settings });
    } catch (err) {
      const reason = `cannot render the config: ${(err as Error).message}`;
      ctx.store.appendEvent({ node: node.name, mac, kind: 'config', message: reason });
      return refuse(req, reply, 503, reason, { mac, node: node.name });
    }
    const detail = `machine config served over HTTP to ${from}`;
    if (node.state === 'booting' || node.state === 'maintenance') ctx.lifecycle.observe(node.name, { kind: 'config-served', detail });
    else ctx.store.appendEvent({ node: node.name, mac, kind: 'config', message: `${detail} again (state ${node.state})` });
    req.log.info({ mac, node: node.name, from, bytes: Buffer.byteLength(text) }, 'machine config served');
    return reply.type('text/yaml; charset=utf-8').header('cache-control', 'no-store').send(text);
  });
}
