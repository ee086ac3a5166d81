// A reimage's Reset once per mark with two appliances on one PostgreSQL (a
// real PostgreSQL 15 started here) and one fake Talos worker marked for
// reimage. Each appliance has its own SQLite copy where the node is marked;
// the Reset intent and outcome per mark are shared. The fake keeps answering
// over mTLS for a while after it takes a Reset, as upstream does while its
// reset sequence runs, so a new leader that trusted its own SQLite would
// send a second Reset.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateMachine } from '../../src/lifecycle/machine.js';
import { Reimager } from '../../src/lifecycle/reimage.js';
import type { ClusterStateStore } from '../../src/store/cluster-state-store.js';
import { PgCoordination } from '../../src/store/pg/coordination.js';
import { SharedStore } from '../../src/store/pg/shared-store.js';
import { reimageMarksOf } from '../../src/store/pg/pg-reimage-marks.js';
import { Store } from '../../src/store/store.js';
import type { PassReport } from '../../src/talos/orchestrator.js';
import { readResetIntent } from '../../src/talos/reset-intent.js';
import { pxeBooted, type Rack } from './cluster-fixture.js';
import { useScaleOutRig, type Instance } from './scale-out-rig.js';

const RESET_REBOOT_MS = 1000;
const SETTLE_MS = 3000; // longer than the fake's reset sequence, as RESET_SETTLE_MS is meant to be for a real node

const rig = useScaleOutRig();

/** w1 installed, then marked for reimage, on the rack's store; a fresh shared database. */
async function markedRack(): Promise<{ r: Rack; conninfo: string }> {
  const r = await rig.rack(['worker']);
  r.fakes.get('w1')!.opts.resetRebootDelayMs = RESET_REBOOT_MS;
  pxeBooted(r, 'w1');
  const orch = r.orchestrator();
  try {
    for (let i = 0; i < 60 && r.store.getNode('w1')!.state !== 'installed'; i++) {
      await orch.pass();
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    await orch.close();
  }
  expect(r.store.getNode('w1')!.state).toBe('installed');
  r.store.setState('w1', 'reimage-pending', 'operator asked (test)');
  return { r, conninfo: rig.database('scale_reset') };
}

/**
 * An appliance with its own SQLite (a copy of the rack's, mark included).
 * `dieAt`: its database session dies (as with kill -9) right after it writes
 * the shared Reset record with that phase, and its pass stops there.
 */
function instance(r: Rack, name: string, conninfo: string, opts: { store?: Store; dieAt?: 'sending' | 'sent' } = {}): Instance {
  const shared = (coord: PgCoordination): ClusterStateStore => ({
    get: (k) => coord.get(k),
    claim: (...a) => coord.claim(...a),
    release: (...a) => coord.release(...a),
    async set(k, v) {
      if (opts.dieAt === 'sent' && k === 'reset:w1' && v.includes('"sent"')) {
        await coord.killSession();
        throw new Error('killed before recording the outcome');
      }
      await coord.set(k, v);
      if (opts.dieAt === 'sending' && k === 'reset:w1' && v.includes('"sending"')) {
        await coord.killSession();
        throw new Error('killed right after recording the intent');
      }
    },
  });
  return rig.appliance(r, name, conninfo, { store: opts.store, clusterState: shared, resetSettleMs: SETTLE_MS });
}

/** Passes of `i` until w1 leaves reimage-pending in its store (or the limit); every report. */
async function passesUntilWiping(i: Instance, limit = 80): Promise<PassReport[]> {
  const out: PassReport[] = [];
  for (let n = 0; n < limit && i.store.getNode('w1')!.state === 'reimage-pending'; n++) {
    out.push(await i.orch.pass());
    await new Promise((res) => setTimeout(res, 50));
  }
  return out;
}

async function sharedIntent(conninfo: string) {
  const s = new Store(':memory:');
  const c = new PgCoordination({ conninfo, local: s });
  try {
    return await readResetIntent(c, 'w1');
  } finally {
    await c.close();
    s.close();
  }
}

describe('Reset once per mark across two appliances', () => {
  it('the leader is killed right after recording the intent: the new leader asks, waits out the window, and sends the one Reset', async () => {
    const { r, conninfo } = await markedRack();
    const a = instance(r, 'a', conninfo, { store: r.store, dieAt: 'sending' });
    const b = instance(r, 'b', conninfo);
    const first = await a.orch.pass();
    expect(first.standby).toBe(false);
    expect(first.resets).toEqual([expect.objectContaining({ node: 'w1', result: 'waiting', reason: expect.stringContaining('killed right after recording the intent') })]);
    await a.orch.close();
    expect(r.totalResets()).toBe(0);
    expect((await sharedIntent(conninfo))?.phase).toBe('sending');

    const reports = await passesUntilWiping(b);
    const resets = reports.flatMap((p) => p.resets);
    // First it waits (a Reset recorded moments ago may be under way), then it sends it.
    expect(resets[0]).toMatchObject({ result: 'waiting', reason: expect.stringContaining('may still be under way') });
    expect(resets.at(-1)).toMatchObject({ result: 'reset' });
    expect(b.store.getNode('w1')!.state).toBe('wiping');
    expect(r.totalResets()).toBe(1);
    expect(await sharedIntent(conninfo)).toMatchObject({ phase: 'sent', mark: `since ${r.store.getNode('w1')!.stateSince}` });
  });

  it('the leader dies after its Reset, before recording the outcome, while the node still answers: the new leader sends none', async () => {
    const { r, conninfo } = await markedRack();
    const mark = `since ${r.store.getNode('w1')!.stateSince}`;
    const a = instance(r, 'a', conninfo, { store: r.store, dieAt: 'sent' });
    const b = instance(r, 'b', conninfo);
    await a.orch.pass();
    await a.orch.close();
    expect(r.totalResets()).toBe(1);
    const reports = await passesUntilWiping(b);
    expect(b.store.getNode('w1')!.state).toBe('wiping');
    expect(reports.flatMap((p) => p.resets).at(-1)).toMatchObject({ result: 'already-wiped', reason: expect.stringContaining('maintenance API answers') });
    expect(r.totalResets()).toBe(1);
    expect(await sharedIntent(conninfo)).toMatchObject({ phase: 'sent', mark });
  });

  it('a Reset recorded as sent for this mark is not sent again by the next leader', async () => {
    const { r, conninfo } = await markedRack();
    const a = instance(r, 'a', conninfo, { store: r.store });
    const b = instance(r, 'b', conninfo);
    expect((await a.orch.pass()).resets).toEqual([expect.objectContaining({ result: 'reset' })]);
    await a.orch.close();
    await a.coord.close();
    const reports = await passesUntilWiping(b);
    expect(reports.flatMap((p) => p.resets).at(-1)).toMatchObject({ result: 'already-wiped', reason: expect.stringContaining('recorded in the shared store') });
    expect(r.totalResets()).toBe(1);
  });
});

/**
 * Appliances as the daemon opens them with scaleOut.postgres: a SharedStore
 * each (nodes and marks in PostgreSQL), w1 installed in the shared store.
 * `clock.at`: while set, both stores write that time (as when marks are made).
 */
async function sharedApplianceStores(r: Rack, conninfo: string) {
  const clock: { at?: number } = {};
  const now = () => clock.at ?? Date.now();
  const open = (name: string) => new SharedStore(join(r.dir, `${name}-shared.db`), conninfo, { now });
  const sa = open('a');
  const sb = open('b');
  sa.syncInventory({ cluster: { name: 'rackboot' } as never, nodes: r.store.listNodes().map((n) => n.spec) });
  sa.setState('w1', r.store.getNode('w1')!.state, 'installed on the rack (test)', { markedForInstall: false });
  return { sa, sb, clock };
}

/** The operator's mark through the CLI/API path (Reimager) on `store`, at the clock's `at` if given; its id. */
function markOn(store: Store, clock: { at?: number }, at: number | undefined, reason: string): number {
  clock.at = at;
  try {
    new Reimager(new StateMachine(store)).mark('w1', reason, 'operator');
  } finally {
    clock.at = undefined;
  }
  return reimageMarksOf(store).current(store.getNode('w1')!)!.id;
}

describe('Reset once per mark id, marks made on either appliance (SharedStore)', () => {
  it('two leaders-to-be passing at once, the mark made on the standby: exactly one Reset', async () => {
    const { r, conninfo } = await markedRack();
    r.store.setState('w1', 'installed', 'back to installed: the shared store is where it is marked (test)');
    const { sa, sb, clock } = await sharedApplianceStores(r, conninfo);
    const markId = markOn(sb, clock, undefined, 'disk swap');
    const a = instance(r, 'a', conninfo, { store: sa });
    const b = instance(r, 'b', conninfo, { store: sb });
    for (let n = 0; n < 40 && sa.getNode('w1')!.state === 'reimage-pending'; n++) {
      await Promise.all([a.orch.pass(), b.orch.pass()]);
    }
    expect(sb.getNode('w1')!.state).toBe('wiping');
    expect(r.totalResets()).toBe(1);
    expect(await sharedIntent(conninfo)).toMatchObject({ phase: 'sent', mark: `id ${markId}` });
  });

  it('the leader is killed right after recording the intent for a mark made elsewhere: the new leader sends the one Reset', async () => {
    const { r, conninfo } = await markedRack();
    r.store.setState('w1', 'installed', 'back to installed (test)');
    const { sa, sb, clock } = await sharedApplianceStores(r, conninfo);
    markOn(sb, clock, undefined, 'disk swap');
    const a = instance(r, 'a', conninfo, { store: sa, dieAt: 'sending' });
    expect((await a.orch.pass()).resets).toEqual([expect.objectContaining({ result: 'waiting' })]);
    await a.orch.close();
    const b = instance(r, 'b', conninfo, { store: sb });
    const resets = (await passesUntilWiping(b)).flatMap((p) => p.resets);
    expect(resets.at(-1)).toMatchObject({ result: 'reset' });
    expect(r.totalResets()).toBe(1);
  });

  it('a second mark written with the first one\'s state_since still gets its own Reset', async () => {
    const { r, conninfo } = await markedRack();
    r.fakes.get('w1')!.opts.resetRebootDelayMs = 100;
    r.store.setState('w1', 'installed', 'back to installed (test)');
    const { sa, sb, clock } = await sharedApplianceStores(r, conninfo);
    const at = Date.now();
    markOn(sa, clock, at, 'first');
    const a = instance(r, 'a', conninfo, { store: sa });
    expect((await passesUntilWiping(a)).flatMap((p) => p.resets).at(-1)).toMatchObject({ result: 'reset' });
    expect(r.totalResets()).toBe(1);
    await a.orch.close();
    await a.coord.close();

    // The node reboots wiped, PXE boots and installs again (the rack's orchestrator, on the shared store).
    const fake = r.fakes.get('w1')!;
    for (let n = 0; n < 100 && fake.mode !== 'maintenance'; n++) await new Promise((res) => setTimeout(res, 20));
    sa.setState('w1', 'booting', 'served the Talos kernel (test)', { markedForInstall: true });
    const installer = r.orchestrator({ store: sa, states: new StateMachine(sa) });
    try {
      for (let n = 0; n < 60 && sa.getNode('w1')!.state !== 'installed'; n++) {
        await installer.pass();
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      await installer.close();
    }
    expect(sa.getNode('w1')!.state).toBe('installed');

    // Marked again on the other appliance, its clock reading what the first mark's did (a step back; here set).
    markOn(sb, clock, at, 'second');
    expect(sb.getNode('w1')!.stateSince).toBe(at);
    const b = instance(r, 'b', conninfo, { store: sb });
    expect((await passesUntilWiping(b)).flatMap((p) => p.resets).at(-1)).toMatchObject({ result: 'reset' });
    expect(r.totalResets()).toBe(2);
  });
});
