// POST /api/nodes/:name/power and GET /api/nodes/:name/power: an operator's
// power action or status read through the node's BMC. Actions go through
// operateNode, so each one is a `power` event exactly like `rackboot power`.
// Like that command (an operator's explicit request), they are not held back
// by the loop guards; one action per node at a time, so a double click does
// not send two.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpContext } from '../context.js';
import type { NodeSpec } from '../../inventory/types.js';
import { operateNode, type PowerOutcome } from '../../bmc/operate.js';
import type { PowerAction } from '../../bmc/types.js';
import { ADMIN, actorOf } from '../access.js';
import { adminAccess } from './auth.js';
import { powerMonitor } from './views.js';

export type PowerApiAction = PowerAction | 'pxe-once';
export const POWER_API_ACTIONS: readonly PowerApiAction[] = ['on', 'off', 'soft', 'cycle', 'pxe-once'];

/** How long an on or off may take to show in the power state (the CLI waits 30 s; a browser should not). */
const SETTLE_MS = 15_000;

export function registerPowerApi(app: FastifyInstance, ctx: HttpContext, opts: { settleMs?: number; pollMs?: number } = {}): void {
  const busy = new Set<string>();

  /** The node's inventory entry with its BMC, or the reply already sent. */
  const target = (name: string, reply: FastifyReply): NodeSpec | undefined => {
    const spec = ctx.inventory()?.nodes.find((n) => n.name === name);
    if (!ctx.store.getNode(name) || !spec) {
      void reply.code(404).send({ message: `no such node: ${name}` });
      return undefined;
    }
    if (!spec.bmc) {
      void reply.code(409).send({ message: `${name} has no bmc in the inventory, so rackboot cannot power it: power it by hand, or add bmc: {address, username} to the node and run rackboot bmc password ${name}` });
      return undefined;
    }
    return spec;
  };

  app.get('/api/nodes/:name/power', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const spec = target(name, reply);
    if (!spec) return reply;
    // A live read, bounded by bmc.timeoutSeconds; a read already running for this node is shared.
    await powerMonitor(ctx).read(spec);
    return { node: name, ...powerMonitor(ctx).view(spec)! };
  });

  app.post('/api/nodes/:name/power', ADMIN, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const action = body.action as PowerApiAction;
    if (typeof action !== 'string' || !POWER_API_ACTIONS.includes(action)) {
      return reply.code(400).send({ message: `action must be one of ${POWER_API_ACTIONS.join(', ')}` });
    }
    if (body.pxe !== undefined && typeof body.pxe !== 'boolean') return reply.code(400).send({ message: 'pxe must be true or false' });
    if (body.pxe === true && action !== 'on' && action !== 'cycle') return reply.code(400).send({ message: 'pxe: true goes only with on or cycle' });
    const spec = target(name, reply);
    if (!spec) return reply;
    if (busy.has(name)) return reply.code(409).send({ message: `a power action on ${name} is already running; wait for it to finish` });
    busy.add(name);
    let outcome: PowerOutcome;
    try {
      outcome = await operateNode(ctx.store, spec, action, {
        dataDir: ctx.settings.dataDir, actor: actorOf(adminAccess(req)), pxeFirst: body.pxe === true,
        timeoutMs: ctx.settings.bmc.timeoutSeconds * 1000, settleMs: opts.settleMs ?? SETTLE_MS, pollMs: opts.pollMs ?? 1000,
        beforePower: ctx.sol ? (n, actor) => ctx.sol!.beforePower(n, actor) : undefined,
      });
    } finally {
      busy.delete(name);
    }
    const monitor = powerMonitor(ctx);
    monitor.noteOutcome(spec, outcome);
    // A cycle or soft-off has no state to wait for; the page gets the next one from a fresh read.
    if (outcome.ok && !outcome.state) void monitor.read(spec).catch(() => undefined);
    const answer = { node: name, action, ok: outcome.ok, message: outcome.message, state: outcome.state ?? null, fault: outcome.fault ?? null };
    if (outcome.ok) return answer;
    // The BMC's own configuration (no password stored) is ours to fix: 409; any fault past us is the gateway's: 502.
    return reply.code(outcome.fault === 'config' ? 409 : 502).send(answer);
  });
}
