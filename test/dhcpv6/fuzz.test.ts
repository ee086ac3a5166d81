// Bad input for the DHCPv6 decoder: random datagrams and mutated client
// messages. Nothing may throw, no decoder bug may hide behind the catch-all
// ('internal decoder error'), and whatever parses must encode back to the
// same bytes (the decoder drops nothing it accepted).
import { describe, expect, it } from 'vitest';
import { encodeDhcpv6, encodeRelay, parseDhcpv6, unwrapRelays } from '../../src/dhcpv6/codec.js';
import { ALL_CLIENT_MESSAGES } from './fixtures.js';
import { mutateDatagram, prng, type DatagramLayout } from '../helpers/fuzz.js';

const DHCPV6: DatagramLayout = { optionsAt: 4, optionEdits: 4, headerBytes: 1, headerValues: 16, junkMax: 200 };

describe('DHCPv6 decoder fuzz: 60k random and mutated messages', () => {
  it('never throws, never hits its catch-all, and round-trips whatever it accepts', () => {
    const r = prng(0x6d6);
    const int = (n: number) => Math.floor(r() * n);
    const bases = ALL_CLIENT_MESSAGES.map(([, build]) => build());
    const kinds: Record<string, number> = {};
    let accepted = 0;
    let internal = 0;
    let mismatched = 0;
    const started = Date.now();
    for (let i = 0; i < 60_000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) {
        buf = Buffer.allocUnsafe(int(400));
        for (let k = 0; k < buf.length; k++) buf[k] = int(256);
        if (buf.length) buf[0] = 1 + int(13);
      } else {
        buf = mutateDatagram(bases[i % bases.length]!, r, DHCPV6);
      }
      const p = parseDhcpv6(buf);
      unwrapRelays(buf); // must not throw either
      if (!p.ok) {
        kinds[p.error.kind] = (kinds[p.error.kind] ?? 0) + 1;
        if (p.error.detail.includes('internal decoder error')) internal++;
        continue;
      }
      accepted++;
      const m = p.message;
      const again = m.kind === 'message'
        ? encodeDhcpv6({ type: m.type, transactionId: m.transactionId, options: m.raw })
        : encodeRelay({ type: m.type, hopCount: m.hopCount, linkAddress: m.linkAddress, peerAddress: m.peerAddress, options: m.raw });
      if (!again.equals(buf)) mismatched++;
    }
    console.log(`dhcpv6 fuzz: 60000 in ${Date.now() - started} ms, accepted ${accepted}, errors ${JSON.stringify(kinds)}`);
    expect(internal).toBe(0);
    expect(mismatched).toBe(0);
    expect(accepted).toBeGreaterThan(1000);
    // The mutations reach every error path.
    expect(Object.keys(kinds).sort()).toEqual(['bad-option', 'bad-relay', 'bad-type', 'option-overrun', 'too-short']);
  }, 30_000);
});

describe('DHCPv6 server fuzz: 30k mutated messages through the policy', () => {
  it('never throws, never fails internally, and every reply parses', async () => {
    const { makeV6Context } = await import('./context.js');
    const { handleDhcpv6 } = await import('../../src/dhcpv6/policy.js');
    const c = makeV6Context();
    const r = prng(0x5e7);
    const bases = ALL_CLIENT_MESSAGES.map(([, build]) => build());
    const drops: Record<string, number> = {};
    let replies = 0;
    let badReplies = 0;
    let thrown = 0;
    for (let i = 0; i < 30_000; i++) {
      const buf = mutateDatagram(bases[i % bases.length]!, r, DHCPV6);
      try {
        const o = handleDhcpv6(c, buf, i % 2 ? 'fe80::5054:ff:fe12:3407%rb0' : '2001:db8:7::2');
        if (o.kind === 'drop') { drops[o.reason] = (drops[o.reason] ?? 0) + 1; continue; }
        replies++;
        if (!parseDhcpv6(o.bytes).ok || o.bytes.length > 1452) badReplies++;
      } catch { thrown++; }
    }
    c.store.close();
    console.log(`dhcpv6 policy fuzz: replies ${replies}, drops ${JSON.stringify(drops)}`);
    expect(thrown).toBe(0);
    expect(drops['internal-error'] ?? 0).toBe(0);
    expect(badReplies).toBe(0);
    expect(replies).toBeGreaterThan(1000);
  }, 30_000);
});
