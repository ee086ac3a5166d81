import { describe, expect, it } from 'vitest';
import { everInstalled, stageTimeline, type StateChange } from '../../src/lifecycle/stages.js';

const ch = (at: number, from: StateChange['from'], to: StateChange['to']): StateChange => ({ at, from, to });

describe('stage timeline', () => {
  it('times each stage of the run from entering it to leaving it, and the current one until now', () => {
    const h = [ch(0, 'registered', 'booting'), ch(10_000, 'booting', 'maintenance'), ch(25_000, 'maintenance', 'configuring'), ch(27_000, 'configuring', 'installing')];
    const t = stageTimeline({ state: 'installing', failedStep: null }, h, 90_000);
    expect(t.map((s) => [s.stage, s.status, s.ms])).toEqual([
      ['booting', 'done', 10_000], ['maintenance', 'done', 15_000], ['configuring', 'done', 2_000],
      ['installing', 'current', 63_000], ['installed', 'todo', null], ['ready', 'todo', null],
    ]);
  });

  it('starts at the last PXE boot: a reimaged node shows only its new run', () => {
    const h = [ch(0, 'registered', 'booting'), ch(5, 'booting', 'installing'), ch(9, 'installing', 'installed'), ch(12, 'installed', 'ready'),
      ch(100, 'ready', 'reimage-pending'), ch(110, 'reimage-pending', 'wiping'), ch(130, 'wiping', 'booting')];
    const t = stageTimeline({ state: 'booting', failedStep: null }, h, 150);
    expect(t.map((s) => s.status)).toEqual(['current', 'todo', 'todo', 'todo', 'todo', 'todo']);
    expect(t[0]).toMatchObject({ enteredAt: 130, ms: 20 });
  });

  it('marks the stage a node failed in, and stages the pull path never passes as skipped', () => {
    const h = [ch(0, 'registered', 'booting'), ch(4_000, 'booting', 'configuring'), ch(6_000, 'configuring', 'installing'), ch(66_000, 'installing', 'failed')];
    const t = stageTimeline({ state: 'failed', failedStep: 'installing' }, h, 999_000);
    expect(t.map((s) => s.status)).toEqual(['done', 'skipped', 'done', 'failed', 'todo', 'todo']);
    expect(t[3]!.ms).toBe(60_000);
  });

  it('knows whether Talos was ever installed', () => {
    expect(everInstalled('failed', [ch(0, 'registered', 'booting'), ch(1, 'booting', 'failed')])).toBe(false);
    expect(everInstalled('registered', [])).toBe(false);
    expect(everInstalled('failed', [ch(0, 'installing', 'installed'), ch(1, 'installed', 'failed')])).toBe(true);
    expect(everInstalled('ready', [])).toBe(true);
  });
});
