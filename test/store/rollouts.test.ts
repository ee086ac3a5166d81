// The rollout rows on both backends: the SQLite functions (SqliteRollouts)
// and the shared PostgreSQL rows (PgRollouts) answer the same.
import { describe, expect, it } from 'vitest';
import { PgRollouts } from '../../src/store/pg/pg-rollouts.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { SqliteRollouts, type NewRollout, type RolloutStore } from '../../src/store/rollouts.js';
import type { StateStore } from '../../src/store/state-store.js';
import { Store } from '../../src/store/store.js';
import { BACKENDS, useBackend } from './backends.js';

const rolloutsIn = (s: StateStore): RolloutStore => (s instanceof Store ? new SqliteRollouts(s.db) : new PgRollouts(s as PgStore));

const PLAN: NewRollout = {
  kind: 'talos', targetVersion: 'v1.13.2', schematic: 's', image: 'img',
  nodes: [
    { node: 'cp1', role: 'controlplane', versionBefore: 'v1.13.0', done: false },
    { node: 'w1', role: 'worker', versionBefore: 'v1.13.2', done: true },
    { node: 'w2', role: 'worker', versionBefore: 'v1.13.0', done: false },
  ],
};

describe.each(BACKENDS)('rollout rows (%s)', (kind) => {
  const backend = useBackend(kind);

  it('records a rollout with its nodes in order, refuses a second while it is open, and keeps each step with its times', () => {
    const r = rolloutsIn(backend.open());
    const id = r.create(PLAN, 1000);
    expect(r.active()).toMatchObject({ id, state: 'running', assetsReady: false, createdAt: 1000, targetVersion: 'v1.13.2' });
    expect(r.nodes(id).map((n) => [n.node, n.role, n.ord, n.state, n.versionAfter, n.finishedAt])).toEqual([
      ['cp1', 'controlplane', 0, 'pending', '', null], ['w1', 'worker', 1, 'done', 'v1.13.2', 1000], ['w2', 'worker', 2, 'pending', '', null],
    ]);
    expect(() => r.create(PLAN)).toThrow(/rollout \d+ \(talos to v1.13.2\) is running/);
    r.markAssetsReady(id, 1500);
    r.setNodeStep(id, 'cp1', 'calling', { started: 2000 });
    r.setNodeStep(id, 'cp1', 'done', { versionAfter: 'v1.13.2', finished: 3000 });
    expect(r.nodes(id)[0]).toMatchObject({ state: 'done', versionAfter: 'v1.13.2', startedAt: 2000, finishedAt: 3000, reason: '' });
    r.setState(id, 'done', '', 4000);
    expect(r.active()).toBeUndefined();
    expect(r.latest()).toMatchObject({ id, state: 'done', assetsReady: true, updatedAt: 4000 });
    expect(r.create(PLAN)).toBeGreaterThan(id);
  });

  it('a transaction that fails leaves every step as it was', () => {
    const r = rolloutsIn(backend.open());
    const id = r.create(PLAN);
    expect(() => r.transaction(() => {
      r.setNodeStep(id, 'cp1', 'pending', { reason: 'resumed' });
      r.setState(id, 'paused', 'half');
      throw new Error('fails midway');
    })).toThrow('fails midway');
    expect(r.get(id)).toMatchObject({ state: 'running', reason: '' });
    expect(r.nodes(id)[0]).toMatchObject({ state: 'pending', reason: '' });
  });
});
