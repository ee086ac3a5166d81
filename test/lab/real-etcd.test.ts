// The real etcd rig itself: members start, list, lead, die and leave as etcd decides.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealEtcdCluster } from '../../src/lab/fake-talos/real-etcd.js';
import { freePort } from '../talos/helpers.js';

describe('RealEtcdCluster (Debian etcd-server on loopback)', () => {
  let c: RealEtcdCluster;
  beforeAll(async () => { c = await RealEtcdCluster.start(['cp1', 'cp2', 'cp3']); }, 30_000);
  afterAll(async () => { await c?.stop(); });

  it('lists every member by name and reports one leader', async () => {
    const ms = await c.memberList('cp1');
    expect(ms.map((m) => m.name).sort()).toEqual(['cp1', 'cp2', 'cp3']);
    const leaders = new Set(await Promise.all(c.names().map(async (n) => (await c.status(n)).leader)));
    expect(leaders.size).toBe(1);
    expect(ms.map((m) => m.id)).toContain([...leaders][0]);
  });

  it('moves leadership to another member', async () => {
    const ms = await c.memberList('cp1');
    const leaderId = (await c.status('cp1')).leader;
    const leader = ms.find((m) => m.id === leaderId)!;
    const target = ms.find((m) => m.id !== leaderId)!;
    await c.moveLeader(leader.name, target.id);
    expect((await c.status(target.name)).leader).toBe(target.id);
  });

  it('a killed member stops answering, the rest keep quorum, and removing it shrinks the cluster', async () => {
    await c.kill('cp3');
    await expect(c.status('cp3')).rejects.toThrow(/etcd at/);
    await c.waitHealthy(['cp1', 'cp2'], 10_000); // a new election when cp3 led
    const id = (await c.memberList('cp1')).find((m) => m.name === 'cp3')!.id;
    await c.removeMember('cp1', id);
    // MemberList answers from the asked member's applied membership (etcd's v3rpc/member.go; a linearizable
    // option came after Debian's 3.4): cp2 lists the removal once it has applied it, which a loaded CI once
    // caught before it had. It must get there.
    await expect.poll(async () => (await c.memberList('cp2')).map((m) => m.name).sort(), { timeout: 5000, interval: 50 }).toEqual(['cp1', 'cp2']);
  });
});

// A port is chosen by binding port 0 and letting it go; anything on the box may take it before etcd
// binds it (a landing CI once waited 20 s on a member that could never come up). Here the test takes
// it on purpose: a listener holds the port handed to the first member.
describe('RealEtcdCluster.start when a chosen port is taken before etcd binds it', () => {
  let held: Server;
  let heldPort: number;
  beforeAll(async () => {
    held = createServer((sock) => sock.destroy()); // the rig's own health reads land here too
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
    heldPort = (held.address() as { port: number }).port;
  });
  afterAll(async () => { await new Promise((r) => held.close(r)); });

  it('the member exits, and start() makes a fresh cluster on fresh ports', async () => {
    let calls = 0;
    const c = await RealEtcdCluster.start(['cp1', 'cp2'], { pickPort: async () => (calls++ === 0 ? heldPort : freePort('127.0.0.1')) });
    try {
      expect(calls).toBeGreaterThan(4); // a second round of ports was chosen
      expect(c.names().map((n) => c.clientUrl(n))).not.toContain(`http://127.0.0.1:${heldPort}`);
      expect((await c.memberList('cp2')).map((m) => m.name).sort()).toEqual(['cp1', 'cp2']);
    } finally {
      await c.stop();
    }
  }, 30_000);

  it("a port that stays taken: after three attempts the error carries etcd's own reason", async () => {
    await expect(RealEtcdCluster.start(['cp1'], { pickPort: async () => heldPort }))
      .rejects.toThrow(/did not start in 3 attempts[\s\S]*address already in use/);
  }, 30_000);
});
