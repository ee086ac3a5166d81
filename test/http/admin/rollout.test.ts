// The page's upgrade-rollout panel and /api/rollout: per node step, versions
// and time; pause and resume are admin-only and need the session's CSRF token.
import { afterEach, expect, it } from 'vitest';
import { createRollout, setNodeStep, setRolloutState, getRollout } from '../../../src/store/rollouts.js';
import { ADMIN_TOKEN, harness, login, type Harness } from './harness.js';
import { rolloutSection } from '../../../src/http/admin/rollout.js';

let h: Harness | undefined;
afterEach(async () => { await h?.close(); h = undefined; });

it('shows the rollout node by node; pause and resume need admin + CSRF and change the stored rollout', async () => {
  h = await harness();
  const id = createRollout(h.store.db, {
    kind: 'talos', targetVersion: 'v1.12.1', schematic: 's'.repeat(64), image: 'factory.talos.dev/metal-installer/x:v1.12.1',
    nodes: [
      { node: 'cp-1', role: 'controlplane', versionBefore: 'v1.11.5', done: false },
      { node: 'w-1', role: 'worker', versionBefore: 'v1.11.5', done: false },
    ],
  }, 1_000);
  setNodeStep(h.store.db, id, 'cp-1', 'done', { versionAfter: 'v1.12.1', started: 1_000, finished: 43_000 });
  setNodeStep(h.store.db, id, 'w-1', 'called', { started: 44_000 });

  const { cookie, csrf } = await login(h.app);
  const page = (await h.app.inject({ url: '/ui', headers: { cookie } })).body;
  expect(page).toMatch(/<tr data-node="cp-1"><td>cp-1<\/td><td>controlplane<\/td><td><span class="state">done<\/span><\/td><td>v1\.11\.5<\/td><td>v1\.12\.1<\/td>\s*<td>42 s<\/td>/);
  expect(page).toMatch(/<tr data-node="w-1">.*in progress/s);
  expect(page).toMatch(/data-action="rollout" data-op="pause"/);

  // Not signed in: refused. Signed in without the CSRF token: refused.
  expect((await h.app.inject({ method: 'POST', url: '/api/rollout/pause', payload: {} })).statusCode).toBe(401);
  expect((await h.app.inject({ method: 'POST', url: '/api/rollout/pause', headers: { cookie }, payload: {} })).statusCode).toBe(403);
  expect(getRollout(h.store.db, id)!.state).toBe('running');

  const paused = await h.app.inject({ method: 'POST', url: '/api/rollout/pause', headers: { cookie, 'x-csrf-token': csrf }, payload: {} });
  expect(paused.statusCode).toBe(200);
  expect(paused.json()).toMatchObject({ state: 'paused', reason: 'paused by the operator' });
  expect((await h.app.inject({ url: '/ui', headers: { cookie } })).body).toMatch(/data-action="rollout" data-op="resume"/);

  const resumed = await h.app.inject({ method: 'POST', url: '/api/rollout/resume', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: {} });
  expect(resumed.json()).toMatchObject({ state: 'running' });
  setRolloutState(h.store.db, id, 'done');
  expect((await h.app.inject({ method: 'POST', url: '/api/rollout/resume', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: {} })).statusCode).toBe(409);
});

it('names a Kubernetes roll as such, one row per component and node', () => {
  const v = { id: 3, kind: 'kubernetes', target: '1.35.2', image: '', state: 'running', reason: '',
    nodes: [{ node: 'kube-apiserver@cp1', role: 'controlplane', state: 'called', before: '', after: 'registry.k8s.io/kube-apiserver:v1.35.2', seconds: null, reason: '' }] };
  const page = String(rolloutSection(v));
  expect(page).toContain('Rollout 3: Kubernetes <strong>1.35.2</strong>');
  expect(page).toContain('<td>kube-apiserver@cp1</td>');
  expect(String(rolloutSection({ ...v, kind: 'talos' }))).toContain('Rollout 3: Talos <strong>');
});
