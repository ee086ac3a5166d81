import { describe, expect, it } from 'vitest';
import { encodeDhcpv6, encodeRelay, Msg6, parseDhcpv6, unwrapRelays, wrapReply, type ClientServerMessage, type Parse6ErrorKind } from '../../src/dhcpv6/codec.js';
import { decodeDuid, iaAddrValue, iaNaValue, Opt6, optionBytes, statusValue, Status6 } from '../../src/dhcpv6/options.js';
import { canonicalIpv6, inPrefix, ipv6Add, ipv6Bytes, ipv6Text, parsePrefix } from '../../src/dhcpv6/ipv6.js';
import { ALL_CLIENT_MESSAGES, duidLlt, ipxeSolicit, MAC_IPXE, MAC_OVMF, ovmfHttpSolicit, ovmfPxeSolicit, relayedSolicit } from './fixtures.js';

function message(buf: Buffer): ClientServerMessage {
  const r = parseDhcpv6(buf);
  if (!r.ok) throw new Error(`${r.error.kind}: ${r.error.detail}`);
  if (r.message.kind !== 'message') throw new Error('a relay message');
  return r.message;
}

function errorKind(buf: Buffer): Parse6ErrorKind | 'ok' {
  const r = parseDhcpv6(buf);
  return r.ok ? 'ok' : r.error.kind;
}

describe('IPv6 text (RFC 5952 §4)', () => {
  it('writes the longest zero run as ::, lower case, leftmost on a tie, no :: for one group', () => {
    expect(canonicalIpv6('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIpv6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIpv6('::')).toBe('::');
    expect(canonicalIpv6('fe80::5054:ff:fe12:3407')).toBe('fe80::5054:ff:fe12:3407');
    expect(canonicalIpv6('1::2::3')).toBeUndefined();
    expect(canonicalIpv6('1:2:3:4:5:6:7')).toBeUndefined();
    expect(canonicalIpv6('12345::')).toBeUndefined();
  });
  it('adds host numbers inside a prefix, carrying across bytes', () => {
    const p = parsePrefix('2001:db8:7::/64')!;
    expect(ipv6Add(p.base, 0x1ff)).toBe('2001:db8:7::1ff');
    expect(inPrefix(ipv6Bytes('2001:db8:7::1ff')!, p)).toBe(true);
    expect(inPrefix(ipv6Bytes('2001:db8:8::1')!, p)).toBe(false);
    expect(ipv6Text(ipv6Bytes('2001:db8::ffff')!)).toBe('2001:db8::ffff');
    expect(ipv6Add(ipv6Bytes('2001:db8::ffff')!, 1)).toBe('2001:db8::1:0');
    expect(parsePrefix('2001:db8::/129')).toBeUndefined();
  });
});

describe('DHCPv6 codec round-trips the client messages', () => {
  for (const [name, build] of ALL_CLIENT_MESSAGES) {
    it(`${name}: parse → encode gives back the same bytes`, () => {
      const bytes = build();
      const r = parseDhcpv6(bytes);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const m = r.message;
      const again = m.kind === 'message'
        ? encodeDhcpv6({ type: m.type, transactionId: m.transactionId, options: m.raw })
        : encodeRelay({ type: m.type, hopCount: m.hopCount, linkAddress: m.linkAddress, peerAddress: m.peerAddress, options: m.raw });
      expect(again.toString('hex')).toBe(bytes.toString('hex'));
    });
  }
});

describe('DHCPv6 option values', () => {
  it("decodes OVMF's PXEv6 Solicit (RFC 5970 options 61 and 62, vendor class 16)", () => {
    const m = message(ovmfPxeSolicit());
    expect(m.type).toBe(Msg6.SOLICIT);
    expect(m.transactionId).toBe(0x0a0b0c);
    expect(m.options.clientId?.type).toBe(4);
    expect(m.options.clientId?.mac).toBeUndefined(); // a DUID-UUID names no MAC
    expect(m.options.oro).toEqual([59, 60, 16, 23]);
    expect(m.options.iaNa).toEqual([{ iaid: 0x12340007, t1: 0, t2: 0, addresses: [] }]);
    expect(m.options.clientArch).toEqual([7]);
    expect(m.options.nii).toEqual({ type: 1, major: 3, minor: 0 });
    expect(m.options.vendorClass).toEqual([{ enterprise: 343, data: ['PXEClient:Arch:00007:UNDI:003000'] }]);
    expect(m.options.elapsed).toBe(0);
    expect(m.options.rapidCommit).toBe(false);
  });

  it('the HTTPv6 client says HTTPClient and arch 16', () => {
    const m = message(ovmfHttpSolicit());
    expect(m.options.vendorClass[0]!.data[0]).toMatch(/^HTTPClient/);
    expect(m.options.clientArch).toEqual([16]);
  });

  it('reads the MAC from DUID-LL and DUID-LLT over Ethernet only (RFC 8415 §11.2, §11.4)', () => {
    const ipxe = message(ipxeSolicit(true));
    expect(ipxe.options.clientId?.mac).toBe(MAC_IPXE);
    expect(ipxe.options.userClass).toEqual(['iPXE']);
    expect(ipxe.options.rapidCommit).toBe(true);
    expect(ipxe.options.elapsed).toBe(5);
    expect(decodeDuid(duidLlt(MAC_OVMF))).toMatchObject({ type: 1, mac: MAC_OVMF });
    expect(decodeDuid(Buffer.from('0003000652540012', 'hex'))).toMatchObject({ type: 3, mac: undefined }); // hardware type 6
    expect(decodeDuid(Buffer.from('0004' + '00'.repeat(15), 'hex'))).toMatch(/must be 18/);
    expect(decodeDuid(Buffer.alloc(140, 1))).toMatch(/130/);
  });

  it('decodes an IA_NA with IAADDR and status code nested inside', () => {
    const value = iaNaValue({ iaid: 9, t1: 100, t2: 160 }, [
      [Opt6.IAADDR, iaAddrValue({ address: '2001:db8:7::100', preferred: 200, valid: 300 }, [[Opt6.STATUS_CODE, statusValue(0, 'ok')]])],
      [Opt6.STATUS_CODE, statusValue(Status6.NoAddrsAvail, 'none left')],
    ]);
    const m = message(encodeDhcpv6({ type: Msg6.REPLY, transactionId: 1, options: [[Opt6.IA_NA, value]] }));
    expect(m.options.iaNa).toEqual([{
      iaid: 9, t1: 100, t2: 160, status: { code: 2, message: 'none left' },
      addresses: [{ address: '2001:db8:7::100', preferred: 200, valid: 300, status: { code: 0, message: 'ok' } }],
    }]);
  });

  it('boot file URL and parameters (RFC 5970 §3.1, §3.2)', () => {
    const m = message(encodeDhcpv6({
      type: Msg6.REPLY, transactionId: 2,
      options: [[Opt6.BOOTFILE_URL, Buffer.from('tftp://[2001:db8::1]/snponly.efi')], [Opt6.BOOTFILE_PARAM, Buffer.from('0003abc0000', 'latin1').subarray(0, 0)]],
    }));
    expect(m.options.bootFileUrl).toBe('tftp://[2001:db8::1]/snponly.efi');
    expect(m.options.bootFileParams).toEqual([]);
  });
});

describe('relay messages (RFC 8415 §9, §19.3.8; RFC 6939)', () => {
  it('unwraps a Relay-Forward to the client message and keeps option 79 and the Interface-Id', () => {
    const r = unwrapRelays(relayedSolicit());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.relays).toHaveLength(1);
    expect(r.relays[0]!.options.clientLinkLayer).toEqual({ hwtype: 1, address: MAC_OVMF });
    expect(r.relays[0]!.linkAddress).toBe('2001:db8:7::1');
    expect(r.inner.options.clientArch).toEqual([7]);
  });

  it('wraps a reply in a Relay-Reply that copies the addresses and echoes the Interface-Id', () => {
    const r = unwrapRelays(relayedSolicit());
    if (!r.ok) throw new Error('unwrap failed');
    const reply = encodeDhcpv6({ type: Msg6.ADVERTISE, transactionId: 0x0a0b0c, options: [] });
    const out = parseDhcpv6(wrapReply(r.relays, reply));
    expect(out.ok).toBe(true);
    if (!out.ok || out.message.kind !== 'relay') return;
    expect(out.message.type).toBe(Msg6.RELAY_REPL);
    expect(out.message.peerAddress).toBe('fe80::5054:ff:fe12:3407');
    expect(out.message.options.interfaceId?.toString()).toBe('eth3');
    expect(out.message.options.relayMessage!.equals(reply)).toBe(true);
  });

  it('refuses relays nested deeper than HOP_COUNT_LIMIT and relays without a message', () => {
    let bytes = ovmfPxeSolicit();
    for (let i = 0; i < 12; i++) bytes = encodeRelay({ type: Msg6.RELAY_FORW, hopCount: i, linkAddress: '::', peerAddress: '::', options: [[Opt6.RELAY_MSG, bytes]] });
    const r = unwrapRelays(bytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.detail).toMatch(/relay levels/);
    expect(errorKind(encodeRelay({ type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: '::', peerAddress: '::', options: [] }))).toBe('bad-relay');
  });
});

describe('malformed input is a typed error', () => {
  const cases: Array<[string, Buffer, Parse6ErrorKind]> = [
    ['three bytes', Buffer.from('010203', 'hex'), 'too-short'],
    ['type 0', Buffer.from('00000000', 'hex'), 'bad-type'],
    ['type 14', Buffer.from('0e000000', 'hex'), 'bad-type'],
    ['a relay shorter than 34 bytes', Buffer.alloc(20, 0).fill(12, 0, 1), 'too-short'],
    ['an option longer than the message', Buffer.concat([Buffer.from('01000001', 'hex'), Buffer.from('00010010aabb', 'hex')]), 'option-overrun'],
    ['two trailing bytes', Buffer.concat([Buffer.from('01000001', 'hex'), Buffer.from('0001', 'hex')]), 'option-overrun'],
    ['two Client IDs', encodeDhcpv6({ type: 1, transactionId: 1, options: [[1, Buffer.from('000300010a0b0c0d0e0f', 'hex')], [1, Buffer.from('000300010a0b0c0d0e0f', 'hex')]] }), 'bad-option'],
    ['an odd-length ORO', encodeDhcpv6({ type: 1, transactionId: 1, options: [[6, Buffer.from('001700', 'hex')]] }), 'bad-option'],
    ['an elapsed time of 3 bytes', encodeDhcpv6({ type: 1, transactionId: 1, options: [[8, Buffer.from('000000', 'hex')]] }), 'bad-option'],
    ['rapid commit with data', encodeDhcpv6({ type: 1, transactionId: 1, options: [[14, Buffer.from('00', 'hex')]] }), 'bad-option'],
    ['an IA_NA of 8 bytes', encodeDhcpv6({ type: 1, transactionId: 1, options: [[3, Buffer.alloc(8)]] }), 'bad-option'],
    ['an IAADDR cut short inside an IA_NA', encodeDhcpv6({ type: 1, transactionId: 1, options: [[3, Buffer.concat([Buffer.alloc(12), optionBytes([[5, Buffer.alloc(10)]])])]] }), 'bad-option'],
    ['a vendor class entry overrunning', encodeDhcpv6({ type: 1, transactionId: 1, options: [[16, Buffer.from('00000157ffff41', 'hex')]] }), 'bad-option'],
    ['a 2-byte DUID', encodeDhcpv6({ type: 1, transactionId: 1, options: [[1, Buffer.from('0003', 'hex')]] }), 'bad-option'],
    ['DNS servers of 15 bytes', encodeDhcpv6({ type: 7, transactionId: 1, options: [[23, Buffer.alloc(15)]] }), 'bad-option'],
  ];
  for (const [name, bytes, kind] of cases) {
    it(`${name} → ${kind}`, () => expect(errorKind(bytes)).toBe(kind));
  }
});
