// The fake control planes' etcd calls operate the real cluster behind them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TalosClient } from '../../src/talos/client.js';
import { isCode } from '../../src/talos/errors.js';
import { makeEtcdRack, type EtcdRack } from '../day2/etcd-rack.js';

describe('fake Talos etcd calls over a real etcd (real-etcd-api.ts)', () => {
  let rack: EtcdRack;
  beforeAll(async () => { rack = await makeEtcdRack(3, 1, { firstHost: 71 }); }, 60_000);
  afterAll(async () => { await rack?.close(); });
  const client = (name: string) => rack.connect(rack.fakes.get(name)!.endpoint);

  it('lists the real members and answers EtcdStatus for the local one; a worker answers Unimplemented', async () => {
    const c = client('cp2');
    const members = await c.etcdMemberList();
    expect(members.map((m) => m.hostname).sort()).toEqual(['cp1', 'cp2', 'cp3']);
    const s = await c.etcdStatus();
    expect(s.member_id).toBe(members.find((m) => m.hostname === 'cp2')!.id);
    expect(s.leader).not.toBe('0');
    c.close();
    const w = client('w1');
    await expect(w.etcdStatus()).rejects.toSatisfy((e) => isCode(e, 12));
    w.close();
  });

  it('EtcdForfeitLeadership on the leader moves leadership away; on a follower answers ""', async () => {
    const members = await rack.etcd.memberList('cp1');
    const leaderId = (await rack.etcd.status('cp1')).leader;
    const leader = members.find((m) => m.id === leaderId)!.name;
    const follower = members.find((m) => m.id !== leaderId)!.name;
    const f = client(follower);
    expect(await f.etcdForfeitLeadership()).toBe('');
    f.close();
    const l = client(leader);
    const to = await l.etcdForfeitLeadership();
    l.close();
    expect(to).not.toBe('');
    expect(to).not.toBe(leader);
    expect((await rack.etcd.status(to)).leader).toBe(members.find((m) => m.name === to)!.id);
  });

  it('EtcdLeaveCluster shrinks the real cluster; EtcdRemoveMemberByID of an unknown id is NotFound', async () => {
    // etcd refuses a removal ("unhealthy cluster") until its leader has been connected to a quorum for 5 s;
    // the fake retries as upstream does, so this call gets a longer deadline than the rest.
    const c = TalosClient.configured(rack.fakes.get('cp3')!.endpoint, rack.admin, { policy: { timeoutMs: 15_000, retries: 0 } });
    await c.etcdLeaveCluster();
    c.close();
    expect(rack.etcd.running('cp3')).toBe(false);
    expect((await rack.etcd.memberList('cp1')).map((m) => m.name).sort()).toEqual(['cp1', 'cp2']);
    const c1 = client('cp1');
    await expect(c1.etcdRemoveMemberById('12345')).rejects.toSatisfy((e) => isCode(e, 5));
    c1.close();
  });
});
