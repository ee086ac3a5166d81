import { describe, expect, it } from 'vitest';
import { encodeDhcp, parseDhcp, type DhcpPacket, type OutgoingPacket, type ParseErrorKind } from '../../src/dhcp/codec.js';
import { ALL_CAPTURES, ipxeBiosDiscover, MAC_OVMF, ovmfDiscover, ovmfProxyRequest, packet, plainDiscover, UUID_TEXT, MAC_UNKNOWN } from './fixtures.js';

function parsed(buf: Buffer): DhcpPacket {
  const r = parseDhcp(buf);
  if (!r.ok) throw new Error(`${r.error.kind}: ${r.error.detail}`);
  return r.packet;
}

function asOutgoing(p: DhcpPacket): OutgoingPacket {
  return {
    op: p.op, htype: p.htype, hlen: p.hlen, hops: p.hops, xid: p.xid, secs: p.secs, flags: p.flags,
    ciaddr: p.ciaddr, yiaddr: p.yiaddr, siaddr: p.siaddr, giaddr: p.giaddr, chaddr: p.chaddr, sname: p.sname, file: p.file,
    options: [...p.raw],
  };
}

describe('codec round-trips the client packets from CLIENTS.md', () => {
  for (const [name, build] of ALL_CAPTURES) {
    it(`${name}: parse → encode gives back the same bytes`, () => {
      const bytes = build();
      const enc = encodeDhcp(asOutgoing(parsed(bytes)), 1472);
      expect(enc.ok).toBe(true);
      if (enc.ok) expect(enc.bytes.toString('hex')).toBe(bytes.toString('hex'));
    });
  }

  it('decodes the iPXE BIOS ROM DISCOVER into typed values', () => {
    const p = parsed(ipxeBiosDiscover());
    expect(p.mac).toBe('52:54:00:12:34:01');
    expect(p.xid).toBe(0x1a2b3c4d);
    expect(p.flags).toBe(0);
    const o = p.options;
    expect(o.messageType).toBe(1);
    expect(o.maxMessageSize).toBe(1472);
    expect(o.clientArch).toEqual([0]);
    expect(o.clientNdi).toEqual({ type: 1, major: 2, minor: 1 });
    expect(o.vendorClass).toBe('PXEClient:Arch:00000:UNDI:002001');
    expect(o.userClass).toEqual(['iPXE']);
    expect(o.clientUuid).toEqual({ type: 0, uuid: UUID_TEXT });
    expect(o.parameterList).toContain(175);
    expect(o.ipxe?.get(0x13)).toEqual(Buffer.from([1]));
  });

  it('decodes OVMF: broadcast flag, arch 7, no user class, 65280 in the proxy REQUEST', () => {
    const d = parsed(ovmfDiscover());
    expect(d.flags).toBe(0x8000);
    expect(d.options.clientArch).toEqual([7]);
    expect(d.options.userClass).toBeUndefined();
    const r = parsed(ovmfProxyRequest('10.77.0.50', '10.77.0.1'));
    expect(r.options.maxMessageSize).toBe(65280);
    expect(r.ciaddr).toBe('10.77.0.50');
    expect(r.options.serverId).toBe('10.77.0.1');
  });

  it('reads RFC 3004 user classes as a list and option 82 sub-options', () => {
    const p = parsed(plainDiscover(MAC_UNKNOWN, 1, [[77, [3, 0x61, 0x62, 0x63, 2, 0x78, 0x79]], [82, [1, 2, 0xaa, 0xbb, 2, 1, 0xcc]]]));
    expect(p.options.userClass).toEqual(['abc', 'xy']);
    expect(p.options.relayAgent?.circuitId).toEqual(Buffer.from([0xaa, 0xbb]));
    expect(p.options.relayAgent?.remoteId).toEqual(Buffer.from([0xcc]));
    expect(p.options.relayAgent?.raw).toEqual(Buffer.from([1, 2, 0xaa, 0xbb, 2, 1, 0xcc]));
  });

  it('reads PXE option 43 sub-options from a PXE client (iPXE boot-server discovery)', () => {
    const p = parsed(packet({ xid: 0, mac: MAC_OVMF }, [[53, [3]], [60, [...Buffer.from('PXEClient:Arch:00000:UNDI:002001')]], [43, [0x47, 0x04, 0x80, 0x03, 0x00, 0x00, 0xff]]]));
    expect(p.options.pxe?.get(71)).toEqual(Buffer.from([0x80, 0x03, 0x00, 0x00]));
  });

  it('deletes trailing NULs from text options, as RFC 2132 §2 tells a receiver to, and keeps one inside', () => {
    const nul = (t: string, n = 1) => [...Buffer.from(t), ...Array<number>(n).fill(0)];
    const p = parsed(plainDiscover(MAC_UNKNOWN, 1, [[12, nul('node1', 2)], [15, nul('rack.example')], [60, nul('PXEClient:Arch:00007:UNDI:003016')], [66, [...Buffer.from('a\0b'), 0]]]));
    expect(p.options.hostname).toBe('node1');
    expect(p.options.domainName).toBe('rack.example');
    expect(p.options.vendorClass).toBe('PXEClient:Arch:00007:UNDI:003016');
    expect(p.options.tftpServer).toBe('a\0b');
    expect(p.raw.get(12)).toEqual(Buffer.from(nul('node1', 2)));
  });

  it('keeps unknown options as raw bytes', () => {
    const p = parsed(plainDiscover(MAC_UNKNOWN, 1, [[224, [1, 2, 3]]]));
    expect(p.raw.get(224)).toEqual(Buffer.from([1, 2, 3]));
  });
});

describe('RFC 3396 long options and RFC 2132 §9.3 overload', () => {
  it('concatenates split instances on parse', () => {
    const p = parsed(plainDiscover(MAC_UNKNOWN, 1, [[12, [0x61, 0x62]], [224, [9]], [12, [0x63]]]));
    expect(p.options.hostname).toBe('abc');
  });

  it('splits a value longer than 255 bytes and reads it back whole', () => {
    const long = Buffer.alloc(600, 0x41);
    const out = encodeDhcp({ op: 2, xid: 7, flags: 0, chaddr: Buffer.from(MAC_OVMF), options: [[53, Buffer.from([5])], [224, long]] }, 1472);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    // 600 = 255 + 255 + 90: three instances of option 224.
    expect(out.bytes.indexOf(Buffer.from([224, 255]))).toBeGreaterThan(0);
    expect(parsed(out.bytes).raw.get(224)).toEqual(long);
  });

  it('respects option 57: options that do not fit spill into file and sname under option 52', () => {
    const opts: Array<[number, Buffer]> = [[53, Buffer.from([5])]];
    for (let c = 200; c < 210; c++) opts.push([c, Buffer.alloc(40, c)]); // 420 bytes of options
    const out = encodeDhcp({ op: 2, xid: 7, flags: 0, chaddr: Buffer.from(MAC_OVMF), options: opts }, 576);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.bytes.length).toBeLessThanOrEqual(576);
    const p = parsed(out.bytes);
    expect(p.raw.get(52)?.[0]).toBeGreaterThan(0);
    for (let c = 200; c < 210; c++) expect(p.raw.get(c)).toEqual(Buffer.alloc(40, c));
    expect(p.file).toBe('');
  });

  it('never uses a smaller limit than 548 and refuses a reply that cannot fit', () => {
    const opts: Array<[number, Buffer]> = [[53, Buffer.from([5])], [224, Buffer.alloc(900, 1)]];
    const out = encodeDhcp({ op: 2, xid: 7, flags: 0, chaddr: Buffer.from(MAC_OVMF), file: 'undionly.kpxe', sname: 'x', options: opts }, 576);
    expect(out.ok).toBe(false);
    const small = encodeDhcp({ op: 2, xid: 7, flags: 0, chaddr: Buffer.from(MAC_OVMF), options: [[53, Buffer.from([5])], [224, Buffer.alloc(290, 1)]] }, 300);
    expect(small.ok).toBe(true);
    if (small.ok) expect(small.bytes.length).toBeLessThanOrEqual(548);
  });

  it('parses option 52 and the overloaded fields', () => {
    const buf = packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [52, [3]]]);
    buf.set([12, 3, 0x66, 0x69, 0x6c, 255], 108); // file carries hostname "fil"
    buf.set([15, 2, 0x73, 0x6e, 255], 44); // sname carries domain "sn"
    const p = parsed(buf);
    expect(p.options.hostname).toBe('fil');
    expect(p.options.domainName).toBe('sn');
    expect(p.file).toBe('');
  });
});

describe('each malformed packet class is a typed error, never a throw', () => {
  const good = () => ipxeBiosDiscover();
  const cases: Array<[ParseErrorKind, () => Buffer]> = [
    ['too-short', () => good().subarray(0, 239)],
    ['bad-op', () => { const b = good(); b[0] = 3; return b; }],
    ['bad-hlen', () => { const b = good(); b[2] = 17; return b; }],
    ['bad-cookie', () => { const b = good(); b[236] = 0; return b; }],
    ['option-overrun', () => Buffer.concat([good().subarray(0, 240), Buffer.from([53, 1, 1, 12, 40, 0x61])])],
    ['option-overrun', () => Buffer.concat([good().subarray(0, 240), Buffer.from([53, 1, 1, 12])])],
    ['option-overrun', () => { const b = packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [52, [1]]]); b.set([12, 200], 108); return b; }],
    ['bad-overload', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [52, [4]]])],
    ['bad-overload', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [52, [1, 2]]])],
    ['bad-overload', () => { const b = packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [52, [1]]]); b.set([52, 1, 2, 255], 108); return b; }],
    ['bad-option', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1, 1]]])],
    ['bad-option', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [50, [10, 0, 0]]])],
    ['bad-option', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [93, [0]]])],
    ['bad-option', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [97, [0, 1, 2]]])],
    ['bad-option', () => packet({ xid: 1, mac: MAC_OVMF }, [[53, [1]], [57, [5]]])],
  ];
  for (const [kind, build] of cases) {
    it(`${kind}: ${build().subarray(236).toString('hex').slice(0, 40)}…`, () => {
      const r = parseDhcp(build());
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.kind).toBe(kind);
        expect(r.error.detail.length).toBeGreaterThan(0);
      }
    });
  }
});
