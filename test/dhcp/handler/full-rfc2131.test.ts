// RFC 2131 §4.3.1 (which address to offer) and §4.3.2 (which REQUEST to NAK),
// with packets shaped like the ones OVMF and dhclient send.
import { afterEach, describe, expect, it } from 'vitest';
import { parseDhcp, type DhcpPacket } from '../../../src/dhcp/codec.js';
import { newMetrics, processDatagram, type DhcpMetrics } from '../../../src/dhcp/answer.js';
import { message, ovmfDiscover, plainDiscover, plainRequest } from '../fixtures.js';
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

const OVMF_MAC = '52:54:00:12:34:02';
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

describe('REQUESTs for what is not the client\'s get a NAK (RFC 2131 §4.3.2)', () => {
  const NAK = 6;
  const ACK = 5;

  it('INIT-REBOOT: NAKs another address, even a free one, and the lease stays where it was', () => {
    setup();
    bind(A, '10.77.0.103');
    const { reply, to } = send(plainRequest(A, { requested: '10.77.0.150', xid: 0x20 }));
    expect(reply?.options.messageType).toBe(NAK);
    expect(to).toEqual({ address: '255.255.255.255', port: 68 });
    expect(ctx.leases.get('02:00:00:00:00:0a')).toMatchObject({ ip: '10.77.0.103', state: 'bound' });
    expect(send(plainRequest(A, { requested: '10.77.0.103', xid: 0x21 })).reply?.options.messageType).toBe(ACK);
    // Back in INIT, its DISCOVER gets its binding back before the address it asks for.
    expect(send(plainDiscover(A, 0x22, [[50, [10, 77, 0, 150]]])).reply?.yiaddr).toBe('10.77.0.103');
  });

  it('SELECTING: NAKs an address that was never offered to the client, ACKs the one that was', () => {
    setup();
    expect(send(plainRequest(B, { server: SERVER, requested: '10.77.0.160', xid: 0x22 })).reply?.options.messageType).toBe(NAK);
    expect(ctx.leases.get('02:00:00:00:00:0b')).toBeUndefined();
    const offered = send(ovmfDiscover()).reply?.yiaddr;
    expect(send(message(3, [0x52, 0x54, 0, 0x12, 0x34, 2], { server: SERVER, requested: '10.77.0.161' })).reply?.options.messageType).toBe(NAK);
    expect(send(message(3, [0x52, 0x54, 0, 0x12, 0x34, 2], { server: SERVER, requested: offered })).reply?.options.messageType).toBe(ACK);
  });

  it('RENEWING: answers only the client\'s own binding, sent from that address, and replies there', () => {
    setup();
    bind(A, '10.77.0.100');
    bind(B, '10.77.0.101');
    // ciaddr is not A's lease: NAK, broadcast, and nothing goes to .101.
    const wrong = send(plainRequest(A, { ciaddr: '10.77.0.101', xid: 0x23 }), { address: '10.77.0.100', port: 68 });
    expect(wrong.reply?.options.messageType).toBe(NAK);
    expect(wrong.to).toEqual({ address: '255.255.255.255', port: 68 });
    expect(ctx.leases.get('02:00:00:00:00:0b')).toMatchObject({ ip: '10.77.0.101', state: 'bound' });
    // B's own ciaddr, but sent from another address: NAK.
    const moved = send(plainRequest(B, { ciaddr: '10.77.0.101', xid: 0x24 }), { address: '10.77.0.100', port: 68 });
    expect(moved.reply?.options.messageType).toBe(NAK);
    expect(moved.to?.address).toBe('255.255.255.255');
    // The real renewal: ACK to the sender.
    ctx.clock.t += 1000;
    const ok = send(plainRequest(A, { ciaddr: '10.77.0.100', xid: 0x25 }), { address: '10.77.0.100', port: 68 });
    expect(ok.reply?.options.messageType).toBe(ACK);
    expect(ok.reply?.yiaddr).toBe('10.77.0.100');
    expect(ok.to).toEqual({ address: '10.77.0.100', port: 68 });
    expect(ctx.leases.get('02:00:00:00:00:0a')?.expiresAt).toBe(ctx.clock.t + 3600_000);
    expect(metrics.naks).toBe(2);
  });

  it('OVMF: a DISCOVER after its offer lapsed gets the same address if no one took it meanwhile', () => {
    setup();
    const first = send(ovmfDiscover()).reply?.yiaddr;
    ctx.clock.t += 31_000; // the 30 s hold is over and the address went to no one
    expect(send(ovmfDiscover()).reply?.yiaddr).toBe(first);
    expect(ctx.leases.get(OVMF_MAC)).toBeUndefined();
  });
});
