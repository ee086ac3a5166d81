import { describe, expect, it } from 'vitest';
import { unicastTarget } from '../../src/dhcp/unicast.js';
import type { OutgoingPacket } from '../../src/dhcp/codec.js';

const MAC = Buffer.from([0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const BCAST = { address: '255.255.255.255', port: 68 };
const reply = (p: Partial<OutgoingPacket> = {}, type = 'offer', to = BCAST) => ({
  type, to, packet: { op: 2, xid: 1, flags: 0, ciaddr: '0.0.0.0', giaddr: '0.0.0.0', yiaddr: '10.77.0.100', chaddr: MAC, options: [], ...p },
});

describe('unicastTarget (RFC 2131 §4.1)', () => {
  it('sends an OFFER or ACK to yiaddr at chaddr when the broadcast flag is clear and neither ciaddr nor giaddr is set', () => {
    for (const type of ['offer', 'ack']) {
      expect(unicastTarget(reply({}, type))).toEqual({ ip: '10.77.0.100', mac: Buffer.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]) });
    }
  });

  it('keeps the broadcast for the flag, NAKs, relayed or renewing clients, no yiaddr, and non-Ethernet hardware', () => {
    expect(unicastTarget(reply({ flags: 0x8000 }))).toBeUndefined();
    expect(unicastTarget(reply({}, 'nak'))).toBeUndefined();
    expect(unicastTarget(reply({ giaddr: '10.88.0.1' }))).toBeUndefined();
    expect(unicastTarget(reply({ ciaddr: '10.77.0.100' }))).toBeUndefined();
    expect(unicastTarget(reply({ yiaddr: '0.0.0.0' }))).toBeUndefined();
    expect(unicastTarget(reply({ htype: 6 }))).toBeUndefined();
    // Already addressed (to ciaddr or a relay) by the handler: left as it is.
    expect(unicastTarget(reply({}, 'offer', { address: '10.88.0.1', port: 67 }))).toBeUndefined();
  });
});
