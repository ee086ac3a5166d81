// DHCP handling, in process: how long the event loop spends deciding one
// datagram (answerBatchDurably for a batch of one, as the service calls it),
// with no sockets, perfdhcp or scheduler in the way, so a change to the
// per-datagram work shows here in microseconds where the DHCP bench's p99
// moves by milliseconds run to run (bench/HISTORY.md, round 27). New MACs
// DISCOVER then REQUEST, on a file store set up as the daemon sets it up:
// `leaseDurability: process` (the commit alone; `power` adds an fsync in the
// thread pool, which the loop does not wait for), checkpoints in their
// worker, sightings committed every 10 datagrams outside the timed part (the
// daemon's 25 ms at 400 datagrams/s). Back to back, and 2.5 ms apart with
// the thread asleep in between, as at the DHCP rows' 200 exchanges a second:
// an idle gap before each datagram is what the service meets there.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerBatchDurably, newMetrics, StoreRefusals, type Reply } from '../src/dhcp/answer.js';
import type { CommitDurability } from '../src/store/wal-flush.js';
import { Lifecycle } from '../src/lifecycle/lifecycle.js';
import { checkpointOffLoop } from '../src/store/checkpoint-off-loop.js';
import { plainDiscover, plainRequest } from '../test/dhcp/fixtures.js';
import { makeContext, SERVER, settingsWith } from '../test/dhcp/context.js';
import { quick, record } from './lib/results.mjs';

const EXCHANGES = quick ? 1_000 : 4_000;
const GAP_MS = 2.5;
const RELAY = { address: '10.77.0.5', port: 67 };
const asleep = new Int32Array(new SharedArrayBuffer(4));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}

/** µs per DISCOVER and per REQUEST for `count` new clients, `gapMs` of sleep before each datagram. */
function exchanges(first: number, count: number, gapMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rb-dhcp-handling-'));
  const file = join(dir, 'rackboot.db');
  const ctx = makeContext(settingsWith({ subnet: '10.77.0.0/16', pool: { start: '10.77.1.0', end: '10.77.254.254' } }), { file });
  const checkpoints = checkpointOffLoop(ctx.store.db, file);
  ctx.lifecycle = new Lifecycle(ctx.store, { sightingsLater: true });
  const metrics = newMetrics();
  const refusals = new StoreRefusals(ctx.log, ctx.now);
  // The commit is the batch's own (NORMAL); what follows it (the fsync) is not the loop's.
  const flusher: CommitDurability = { afterDurable: (then) => then(undefined), close: async () => {} };
  const answer = (msg: Buffer): Reply | undefined => {
    let out: Array<Reply | undefined> = [];
    answerBatchDurably(ctx, metrics, [{ msg, from: RELAY, via: 'dhcp' }], refusals, flusher, (r) => (out = r), (r) => (out = r));
    return out[0];
  };
  const timed = <T>(into: number[], fn: () => T): T => {
    if (gapMs) Atomics.wait(asleep, 0, 0, gapMs);
    const t0 = performance.now();
    const r = fn();
    into.push((performance.now() - t0) * 1000);
    return r;
  };
  const discovers: number[] = [];
  const requests: number[] = [];
  try {
    for (let i = first; i < first + count; i++) {
      const mac = [0x02, 0x00, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x07];
      // Each datagram is built before the clock starts: the daemon receives its bytes.
      const discover = plainDiscover(mac, i);
      const offer = timed(discovers, () => answer(discover));
      const yiaddr = offer ? [...offer.bytes.subarray(16, 20)].join('.') : '0.0.0.0';
      const request = plainRequest(mac, { server: SERVER, requested: yiaddr, xid: i });
      timed(requests, () => answer(request));
      if (i % 5 === 4) ctx.lifecycle.writeSightings();
    }
    ctx.lifecycle.writeSightings();
    return { discovers, requests, offers: metrics.offers, acks: metrics.acks };
  } finally {
    void checkpoints?.stop();
    ctx.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('DHCP handling per datagram, in process', () => {
  it('DISCOVER and REQUEST of new clients, back to back and 2.5 ms apart', () => {
    exchanges(1, EXCHANGES / 4, 0); // the JIT's warm-up, not counted
    const hot = exchanges(100_000, EXCHANGES, 0);
    const idle = exchanges(200_000, EXCHANGES, GAP_MS);
    for (const r of [hot, idle]) expect([r.offers, r.acks]).toEqual([EXCHANGES, EXCHANGES]);
    for (const [kind, key] of [['DISCOVER', 'discovers'], ['REQUEST', 'requests']] as const) {
      for (const q of [0.5, 0.99]) {
        const name = `DHCP handling of one ${kind} in process, ${GAP_MS} ms apart (200 exchanges/s), p${q * 100}`;
        record({ name, unit: 'µs', ours: quantile(idle[key], q), reference: quantile(hot[key], q), referenceName: 'back to back', better: 'lower' });
        console.log(`${name}: ${quantile(idle[key], q).toFixed(0)} µs; back to back ${quantile(hot[key], q).toFixed(0)} µs`);
      }
    }
  }, 10 * 60_000);
});
