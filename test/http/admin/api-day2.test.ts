// The page's day-2 API and panel: admin only, CSRF for apply, the actor on
// the node's events, the rejection reason on the node page.
import { afterEach, expect, it } from 'vitest';
import { recordApplied, recordRejected } from '../../../src/day2/applied.js';
import type { NodePlan } from '../../../src/day2/plan.js';
import type { ApplyOutcome } from '../../../src/day2/config-rollout.js';
import { Day2Unavailable } from '../../../src/day2/service.js';
import { ADMIN_TOKEN, harness, login, type Harness } from './harness.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function withDay2(target: Harness) {
  const calls: string[] = [];
  target.ctx.day2 = {
    plan: async (name) => (calls.push(`plan ${name}`), { node: name, config: { desiredSha256: 'a', appliedSha256: 'b', mode: 'REBOOT', diff: '+x' } } as unknown as NodePlan),
    apply: async (name, actor) => (calls.push(`apply ${name} by ${actor}`), [{ node: name, kind: 'applied', mode: 'NO_REBOOT', modeDetails: '' }] as ApplyOutcome[]),
  };
  return calls;
}

it('plan and apply are admin only; apply needs the CSRF token and records who asked', async () => {
  h = await harness();
  const calls = withDay2(h);
  const app = h.app;
  expect((await app.inject({ url: '/api/nodes/w-1/plan' })).statusCode).toBe(401);
  expect((await app.inject({ method: 'POST', url: '/api/nodes/w-1/apply' })).statusCode).toBe(401);
  const { cookie, csrf } = await login(app);
  expect((await app.inject({ method: 'POST', url: '/api/nodes/w-1/apply', headers: { cookie } })).statusCode).toBe(403);
  expect((await app.inject({ method: 'POST', url: '/api/nodes/w-1/apply', headers: { cookie, 'x-csrf-token': 'forged' } })).statusCode).toBe(403);
  expect(calls).toEqual([]);

  const plan = await app.inject({ url: '/api/nodes/w-1/plan', headers: { cookie } });
  expect(plan.json()).toMatchObject({ node: 'w-1', config: { mode: 'REBOOT' } });
  const ok = await app.inject({ method: 'POST', url: '/api/nodes/w-1/apply', headers: { cookie, 'x-csrf-token': csrf } });
  expect(ok.json()).toEqual({ node: 'w-1', kind: 'applied', mode: 'NO_REBOOT', modeDetails: '' });
  await app.inject({ method: 'POST', url: '/api/nodes/w-1/apply', headers: auth });
  expect(calls).toEqual(['plan w-1', 'apply w-1 by admin-page', 'apply w-1 by admin-api']);
  expect(h.store.events({ node: 'w-1' }).filter((e) => e.kind === 'day2').map((e) => e.message))
    .toEqual(['config apply requested by admin-page', 'config apply requested by admin-api']);
  expect((await app.inject({ url: '/api/nodes/nope/plan', headers: auth })).statusCode).toBe(404);
  expect((await app.inject({ method: 'POST', url: '/api/nodes/nope/apply', headers: auth })).statusCode).toBe(404);
});

it('answers 503 with the reason when day-2 cannot run (no talosconfig, or not wired)', async () => {
  h = await harness();
  expect((await h.app.inject({ url: '/api/nodes/w-1/plan', headers: auth })).statusCode).toBe(503);
  h.ctx.day2 = { plan: async () => { throw new Day2Unavailable('no talosconfig at /x yet; run rackboot talosconfig'); }, apply: async () => [] };
  const r = await h.app.inject({ url: '/api/nodes/w-1/plan', headers: auth });
  expect(r.statusCode).toBe(503);
  expect(r.json().message).toMatch(/run rackboot talosconfig/);
  expect((await h.app.inject({ method: 'POST', url: '/api/nodes/w-1/apply', headers: auth })).statusCode).toBe(409);
});

it('the node page shows what the node runs and, escaped, why Talos rejected a config', async () => {
  h = await harness();
  const schematic = 'b'.repeat(64);
  recordApplied(h.store, 'w-1', `version: v1alpha1\nmachine:\n  type: worker\n  token: abc.secret\n  install: {image: factory.talos.dev/metal-installer/${schematic}:v1.11.5}\n  kubelet: {image: ghcr.io/siderolabs/kubelet:v1.34.1}\n`,
    { via: 'push', mode: 'REBOOT', at: 0 });
  recordRejected(h.store, 'w-1', 'c'.repeat(64), 'unknown keys found: <script>x</script>');
  const page = (await h.app.inject({ url: '/ui/nodes/w-1', headers: auth })).body;
  expect(page).toContain('<section class="card" id="day2">');
  expect(page).toContain(schematic);
  expect(page).toContain('v1.11.5');
  expect(page).toContain('1.34.1');
  expect(page).toContain('Talos rejected config cccccccccccc');
  expect(page).toContain('unknown keys found: &lt;script&gt;x&lt;/script&gt;');
  expect(page).not.toContain('abc.secret');
  expect(page).toMatch(/data-action="apply-config" data-node="w-1"/);
  const js = (await h.app.inject({ url: '/ui/static/app.js' })).body;
  expect(js).toMatch(/post\(base \+ '\/apply'\)/);
});
