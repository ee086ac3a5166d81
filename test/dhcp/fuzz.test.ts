// Bad input: random datagrams and mutated real-client packets through the
// same path the socket uses (processDatagram). Nothing may throw, garbage
// gets no reply, and every datagram is accounted for in the counters.
import { afterAll, describe, expect, it } from 'vitest';
import { parseDhcp } from '../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../src/dhcp/answer.js';
import { ALL_CAPTURES } from './fixtures.js';
import { makeContext, settingsWith, type TestContext } from './context.js';
import { mutateDatagram, prng, type DatagramLayout } from '../helpers/fuzz.js';

const contexts: TestContext[] = [];
afterAll(() => contexts.forEach((c) => c.store.close()));

const DHCPV4: DatagramLayout = { optionsAt: 240, optionEdits: 8, headerBytes: 236, headerValues: 256, junkMax: 400 };

function accounted(m: DhcpMetrics): number {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return sum(m.drops) + sum(m.parseErrors) + m.offers + m.acks + m.naks + m.informs + m.proxyOffers + m.proxyAcks + m.releases + m.declines;
}

describe('fuzz: 100k+ random and mutated packets', () => {
  for (const mode of ['full', 'proxy'] as const) {
    it(`${mode} mode: no exception escapes, garbage gets no reply, every packet is counted`, () => {
      const ctx = makeContext(settingsWith({ mode, pool: mode === 'full' ? { start: '10.77.0.100', end: '10.77.0.200' } : undefined }));
      contexts.push(ctx);
      const r = prng(mode === 'full' ? 0xc0ffee : 0xbeef);
      const int = (n: number) => Math.floor(r() * n);
      const captures = ALL_CAPTURES.map(([, build]) => build());
      const randomMetrics = newMetrics();
      const mutatedMetrics = newMetrics();
      let thrown = 0;
      let garbageReplies = 0;
      let badReplies = 0;
      const started = Date.now();
      let t1 = 0;

      for (let i = 0; i < 30_000; i++) {
        // Pure noise of any length, and noise behind a valid-looking header and cookie.
        const len = int(700);
        const buf = Buffer.allocUnsafe(len);
        for (let k = 0; k < len; k++) buf[k] = int(256);
        if (i % 2 === 1 && len >= 240) buf.writeUInt32BE(0x63825363, 236);
        try {
          if (processDatagram(ctx, randomMetrics, buf, { address: '0.0.0.0', port: 68 }, i % 3 === 0 ? 'proxy' : 'dhcp')) garbageReplies++;
        } catch { thrown++; }
      }
      t1 = Date.now();
      for (let i = 0; i < 30_000; i++) {
        const buf = mutateDatagram(captures[i % captures.length]!, r, DHCPV4);
        try {
          const out = processDatagram(ctx, mutatedMetrics, buf, { address: '10.77.0.50', port: i % 2 ? 68 : 4011 }, i % 4 === 0 ? 'proxy' : 'dhcp');
          if (out) {
            const p = parseDhcp(out.bytes);
            if (!p.ok || p.packet.op !== 2 || out.bytes.length > 1472) badReplies++;
          }
        } catch { thrown++; }
      }
      const elapsed = Date.now() - started;
      console.log(`${mode}: 60000 packets in ${elapsed} ms (random ${t1 - started} ms); random: ${JSON.stringify(randomMetrics.parseErrors)} drops ${JSON.stringify(randomMetrics.drops)}; mutated: parse errors ${JSON.stringify(mutatedMetrics.parseErrors)}, drops ${JSON.stringify(mutatedMetrics.drops)}, replies ${mutatedMetrics.offers + mutatedMetrics.acks + mutatedMetrics.naks + mutatedMetrics.proxyOffers + mutatedMetrics.proxyAcks}`);

      expect(thrown).toBe(0);
      expect(garbageReplies).toBe(0);
      expect(badReplies).toBe(0);
      expect(randomMetrics.received).toBe(30_000);
      expect(accounted(randomMetrics)).toBe(30_000);
      expect(accounted(mutatedMetrics)).toBe(30_000);
      expect(randomMetrics.drops['internal-error'] ?? 0).toBe(0);
      expect(mutatedMetrics.drops['internal-error'] ?? 0).toBe(0);
      // The mutations really reach the decoder's error paths.
      expect(Object.keys(mutatedMetrics.parseErrors).length).toBeGreaterThanOrEqual(4);
      expect(elapsed).toBeLessThan(25_000);
    }, 40_000);
  }
});
