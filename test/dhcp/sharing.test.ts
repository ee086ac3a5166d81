// ACKs on a shared segment wait for the shared store: an ACK goes out only
// once its binding is committed there, and an ACK the shared store refuses is
// not sent at all (the holder's row is adopted locally instead). OFFERs pass
// through untouched.
import { afterEach, describe, expect, it } from 'vitest';
import { answerBatch, newMetrics, StoreRefusals } from '../../src/dhcp/answer.js';
import { commitSharedAcks, type DhcpSharing, type SharedBind } from '../../src/dhcp/sharing.js';
import { ipxeBiosDiscover, ipxeBiosRequest, plainDiscover, plainRequest } from './fixtures.js';
import { makeContext, SERVER, settingsWith, type TestContext } from './context.js';

const CLIENT = { address: '0.0.0.0', port: 68 };
let ctx: TestContext | undefined;
afterEach(() => ctx?.store.close());

function sharingThat(decide: (b: SharedBind) => Awaited<ReturnType<DhcpSharing['commitBinds']>>[number]) {
  const seen: SharedBind[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const sharing: DhcpSharing = {
    answering: () => true,
    commitBinds: async (binds) => {
      seen.push(binds);
      await gate;
      return binds.map(decide);
    },
    recordFreed: async () => undefined,
    refresh: async () => undefined,
    status: () => ({}),
    close: async () => undefined,
  };
  return { sharing, seen, release };
}

describe('shared-segment ACKs', () => {
  it('the local book tells the shared store of every RELEASE and DECLINE it records, and of nothing else', () => {
    ctx = makeContext(settingsWith({ pool: { start: '10.77.0.100', end: '10.77.0.110' } }));
    const told: unknown[] = [];
    ctx.leases.onFreed = (c) => told.push(c);
    ctx.leases.bind('02:00:00:00:00:41', '10.77.0.100', 60);
    expect(ctx.leases.release('02:00:00:00:00:42', '10.77.0.100')).toBe(false);
    expect(ctx.leases.release('02:00:00:00:00:41', '10.77.0.100')).toBe(true);
    ctx.leases.decline('02:00:00:00:00:41', '10.77.0.101', 300);
    expect(told).toEqual([
      { kind: 'released', mac: '02:00:00:00:00:41', ip: '10.77.0.100' },
      { kind: 'declined', ip: '10.77.0.101', until: ctx.now() + 300_000 },
    ]);
  });

  it('holds every ACK of a batch until its commit resolves, and sends it then with the binding it committed', async () => {
    ctx = makeContext(settingsWith({ pool: { start: '10.77.0.100', end: '10.77.0.110' } }));
    const metrics = newMetrics();
    const MAC = [0x02, 0, 0, 0, 0, 0x41];
    const offer = answerBatch(ctx, metrics, [{ msg: plainDiscover(MAC), from: CLIENT, via: 'dhcp' }], new StoreRefusals(ctx.log, ctx.now));
    const { sharing, seen, release } = sharingThat(() => ({ ok: true }));
    expect(await commitSharedAcks(ctx, sharing, metrics, offer)).toEqual(offer); // no ACK: no commit, nothing held
    expect(seen).toEqual([]);

    const replies = answerBatch(ctx, metrics, [
      { msg: plainRequest(MAC, { server: SERVER, requested: '10.77.0.100' }), from: CLIENT, via: 'dhcp' },
      { msg: ipxeBiosDiscover(), from: CLIENT, via: 'dhcp' },
    ], new StoreRefusals(ctx.log, ctx.now));
    expect(replies.map((r) => r?.outcome.type)).toEqual(['ack', 'offer']);
    let sent: unknown;
    const pending = commitSharedAcks(ctx, sharing, metrics, replies).then((out) => (sent = out));
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toBeUndefined(); // the commit has not returned: nothing leaves
    expect(seen).toEqual([[{ mac: '02:00:00:00:00:41', ip: '10.77.0.100', expiresAt: ctx.now() + 3600_000, clientId: null, hostname: null }]]);
    release();
    expect(await pending).toEqual(replies);
    expect(metrics.acks).toBe(1);
  });

  it('drops an ACK the shared store refuses, counts it, and adopts the holder\'s row', async () => {
    ctx = makeContext(settingsWith({ pool: { start: '10.77.0.100', end: '10.77.0.110' } }));
    const metrics = newMetrics();
    const refusals = new StoreRefusals(ctx.log, ctx.now);
    answerBatch(ctx, metrics, [{ msg: ipxeBiosDiscover(), from: CLIENT, via: 'dhcp' }], refusals);
    const replies = answerBatch(ctx, metrics, [{ msg: ipxeBiosRequest(SERVER, '10.77.0.11'), from: CLIENT, via: 'dhcp' }], refusals);
    expect(replies[0]?.outcome.type).toBe('ack');
    const holder = { mac: '02:00:00:00:00:99', ip: '10.77.0.11', state: 'bound' as const, expiresAt: ctx.now() + 60_000, clientId: null, hostname: null };
    const { sharing, release } = sharingThat(() => ({ ok: false, holder, error: 'taken' }));
    release();
    expect(await commitSharedAcks(ctx, sharing, metrics, replies)).toEqual([undefined]);
    expect(metrics.acks).toBe(0);
    expect(metrics.drops['shared-store-refused']).toBe(1);
    expect(ctx.leases.get('02:00:00:00:00:99')).toMatchObject({ ip: '10.77.0.11', state: 'bound' });
    expect(ctx.leases.get('52:54:00:12:34:01')).toBeUndefined();
  });
});
