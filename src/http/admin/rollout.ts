// The page's rollout panel and its API (day2-rollout): the latest upgrade
// rollout, node by node, with pause and resume. Resume marks it running and
// the daemon's rollout service (src/day2/rollout-service.ts) drives it.
import type { FastifyInstance } from 'fastify';
import { pauseRollout, resumeRollout } from '../../day2/rollout-plan.js';
import { rolloutsOf } from '../../store/pg/pg-rollouts.js';
import type { Store } from '../../store/store.js';
import { ADMIN } from '../access.js';
import type { HttpContext } from '../context.js';
import { html, type Safe } from './html.js';

export interface RolloutView {
  id: number;
  /** "talos" (an upgrade) or "kubernetes" (a Kubernetes roll, one row per component and node). */
  kind: string;
  target: string;
  image: string;
  state: string;
  reason: string;
  nodes: { node: string; role: string; state: string; before: string; after: string; seconds: number | null; reason: string }[];
}

export function rolloutView(store: Store): RolloutView | null {
  const rollouts = rolloutsOf(store);
  const r = rollouts.latest();
  if (!r) return null;
  return {
    id: r.id, kind: r.kind, target: r.targetVersion, image: r.image, state: r.state, reason: r.reason,
    nodes: rollouts.nodes(r.id).map((n) => ({
      node: n.node, role: n.role, state: n.state, before: n.versionBefore, after: n.versionAfter || r.targetVersion,
      seconds: n.startedAt && n.finishedAt ? Math.round((n.finishedAt - n.startedAt) / 1000) : null, reason: n.reason,
    })),
  };
}

/** pending / in progress / done / failed, as the panel shows a node's step. */
const shown = (step: string) => (step === 'calling' || step === 'installed' || step === 'called' ? 'in progress' : step);

export function rolloutSection(v: RolloutView | null): Safe {
  if (!v) return html`<p class="muted">No upgrade rollout yet. Start one with <code>rackboot upgrade --all</code>.</p>`;
  return html`<p>Rollout ${v.id}: ${v.kind === 'kubernetes' ? 'Kubernetes' : 'Talos'} <strong>${v.target}</strong> <span class="state rollout-${v.state}">${v.state}</span>
${v.reason ? html` <span class="failed-text">${v.reason}</span>` : ''}</p>
<div class="table-wrap"><table id="rollout-table"><thead><tr><th>Node</th><th>Role</th><th>Step</th><th>Before</th><th>After</th><th>Time</th><th></th></tr></thead><tbody>
${v.nodes.map((n) => html`<tr data-node="${n.node}"><td>${n.node}</td><td>${n.role}</td><td><span class="state">${shown(n.state)}</span></td><td>${n.before}</td><td>${n.after}</td>
<td>${n.seconds === null ? '' : `${n.seconds} s`}</td><td class="muted small">${n.reason}</td></tr>`)}
</tbody></table></div>
${v.state === 'running' ? html`<button type="button" class="secondary" data-action="rollout" data-op="pause">Pause</button>` : ''}
${v.state === 'paused' ? html`<button type="button" data-action="rollout" data-op="resume">Resume</button>` : ''}`;
}

export function registerRolloutApi(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/rollout', ADMIN, async () => rolloutView(ctx.store));
  app.post('/api/rollout/pause', ADMIN, async (_req, reply) => {
    try {
      pauseRollout(ctx.store);
      return rolloutView(ctx.store);
    } catch (err) {
      return reply.code(409).send({ message: (err as Error).message });
    }
  });
  app.post('/api/rollout/resume', ADMIN, async (_req, reply) => {
    try {
      resumeRollout(ctx.store);
      return rolloutView(ctx.store);
    } catch (err) {
      return reply.code(409).send({ message: (err as Error).message });
    }
  });
}
