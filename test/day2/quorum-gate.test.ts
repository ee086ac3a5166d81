// The quorum gate against real etcd members behind fake control planes.
import { afterEach, describe, expect, it } from 'vitest';
import { checkQuorum, judgeQuorum, type MemberHealth } from '../../src/day2/quorum-gate.js';
import { makeEtcdRack, type EtcdRack } from './etcd-rack.js';

const cps = (r: EtcdRack) => [...r.fakes.entries()].filter(([n]) => n.startsWith('cp')).map(([name, f]) => ({ name, endpoint: f.endpoint }));
const healthy = (name: string, id = name): MemberHealth => ({ id, name, healthy: true });

describe('judgeQuorum', () => {
  it('refuses 2 members, naming upstream', () => {
    const v = judgeQuorum([healthy('cp1'), healthy('cp2')], { takingDown: 'cp1' });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/2 members.*ValidateForUpgrade/);
  });
  it('refuses a member that never started, and a sick one', () => {
    expect(judgeQuorum([healthy('cp1'), healthy('cp2'), { id: '9', name: '', healthy: false }]).ok).toBe(false);
    const v = judgeQuorum([healthy('cp1'), healthy('cp2'), { id: '3', name: 'cp3', healthy: false, problem: 'connection refused' }], { takingDown: 'cp1' });
    expect(!v.ok && v.reason).toMatch(/cp3 \(connection refused\)/);
  });
  it('lets 3 healthy members through for one going down; 1 member only when allowed', () => {
    expect(judgeQuorum([healthy('cp1'), healthy('cp2'), healthy('cp3')], { takingDown: 'cp2' }).ok).toBe(true);
    expect(judgeQuorum([healthy('cp1')], { takingDown: 'cp1' }).ok).toBe(false);
    expect(judgeQuorum([healthy('cp1')], { takingDown: 'cp1', allowSingleMember: true }).ok).toBe(true);
  });
});

describe('checkQuorum over real etcd', () => {
  let rack: EtcdRack | undefined;
  afterEach(async () => { await rack?.close(); rack = undefined; });

  it('passes a healthy 3-member cluster, then refuses once a real member is killed', async () => {
    rack = await makeEtcdRack(3);
    const ok = await checkQuorum(cps(rack), rack.connect, { takingDown: 'cp1' });
    expect(ok).toMatchObject({ ok: true });
    expect(ok.members.map((m) => m.name).sort()).toEqual(['cp1', 'cp2', 'cp3']);
    await rack.etcd.kill('cp3');
    const v = await checkQuorum(cps(rack), rack.connect, { takingDown: 'cp1' });
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(/not healthy: cp3/);
  }, 60_000);

  it('refuses a real 2-member cluster', async () => {
    rack = await makeEtcdRack(2);
    const v = await checkQuorum(cps(rack), rack.connect, { takingDown: 'cp1' });
    expect(v.members).toHaveLength(2);
    expect(!v.ok && v.reason).toMatch(/etcd has 2 members/);
  }, 60_000);
});
