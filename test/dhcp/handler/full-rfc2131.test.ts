// RFC 2131 §4.3.1 (which address to offer) and §4.3.2 (which REQUEST to NAK),
// with packets shaped like the ones OVMF and dhclient send.
import { afterEach, describe, expect, it } from 'vitest';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../../src/dhcp/answer.js';
import { ovmfDiscover, plainDiscover, plainRequest } from '../fixtures.js';
import { makeContext, NODES, SERVER, settingsWith, type TestContext } from '../context.js';

const UNBOUND = { address: '0.0.0.0', port: 68 };
const POOL = { start: '10.77.0.100', end: '10.77.0.199' };
let ctx: TestContext;
let metrics: DhcpMetrics;

afterEach(() => ctx?.store.close());

function send(buf: Buffer, from = UNBOUND): { reply?: DhcpPacket; to?: { address: string; port: number } } {
  const out = processDatagram(ctx, metrics, buf, from, 'dhcp');
  if (!out) return {};
  const p = parseDhcp(out.bytes);
  if (!p.ok) throw new Error(`our reply does not parse: ${p.error.detail}`);
  return { reply: p.packet, to: out.to };
}

/** A full-mode context where the OVMF machine is not in the inventory, so it gets pool addresses. */
function setup(dhcp = {}) {
  ctx = makeContext(settingsWith({ pool: POOL, ...dhcp }), { nodes: NODES.filter((n) => n.name !== 'ovmf-1') });
  metrics = newMetrics();
}

const A = [2, 0, 0, 0, 0, 0xa];
const B = [2, 0, 0, 0, 0, 0xb];
const bind = (mac: number[], ip: string) => {
  expect(send(plainDiscover(mac, 0x10, [[50, ip.split('.').map(Number)]])).reply?.yiaddr).toBe(ip);
  expect(send(plainRequest(mac, { server: SERVER, requested: ip })).reply?.options.messageType).toBe(5);
};

describe('offers (RFC 2131 §4.3.1)', () => {
  it('gives a retransmitted OVMF DISCOVER (same xid) the same address while the offer is held', () => {
    setup();
    const first = send(ovmfDiscover()).reply?.yiaddr;
    expect(first).toBe('10.77.0.100');
    expect(send(ovmfDiscover()).reply?.yiaddr).toBe(first);
    expect(send(ovmfDiscover()).reply?.yiaddr).toBe(first);
    // A new xid from the same client, the offer still held: same address.
    expect(send(ovmfDiscover(0x0badcb00)).reply?.yiaddr).toBe(first);
    // Another client meanwhile gets the next one.
    expect(send(plainDiscover(A)).reply?.yiaddr).toBe('10.77.0.101');
  });

  it('offers the address a DISCOVER asks for (option 50) when it is free and in the pool', () => {
    setup();
    expect(send(plainDiscover(A, 0x11, [[50, [10, 77, 0, 150]]])).reply?.yiaddr).toBe('10.77.0.150');
    // Outside the pool, or offered to someone else: a pool address instead.
    expect(send(plainDiscover(B, 0x12, [[50, [10, 77, 0, 150]]])).reply?.yiaddr).toBe('10.77.0.100');
    ctx.offers.forget('02:00:00:00:00:0b');
    expect(send(plainDiscover(B, 0x13, [[50, [10, 77, 0, 50]]])).reply?.yiaddr).toBe('10.77.0.101');
  });

  it('prefers the client\'s own lease over the address it asks for, and never offers another client\'s lease', () => {
    setup();
    bind(A, '10.77.0.120');
    expect(send(plainDiscover(A, 0x14, [[50, [10, 77, 0, 130]]])).reply?.yiaddr).toBe('10.77.0.120');
    expect(send(plainDiscover(B, 0x15, [[50, [10, 77, 0, 120]]])).reply?.yiaddr).toBe('10.77.0.100');
  });
});
