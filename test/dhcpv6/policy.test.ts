// The DHCPv6 server's answers (RFC 8415 §18.3) to the clients in fixtures.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDhcpv6, Msg6, parseDhcpv6, unwrapRelays, type ClientServerMessage } from '../../src/dhcpv6/codec.js';
import { duidLl, iaAddrValue, iaNaValue, Opt6, u16ListValue, vendorClassValue, type OptionList } from '../../src/dhcpv6/options.js';
import { handleDhcpv6, type Outcome6 } from '../../src/dhcpv6/policy.js';
import { macFromLinkLocal } from '../../src/dhcpv6/eui64.js';
import { duidUuid, ipxeSolicit, MAC_IPXE, MAC_OVMF, ovmfHttpSolicit, ovmfPxeSolicit, relayedSolicit } from './fixtures.js';
import { makeV6Context, OVMF_LINK_LOCAL, SERVER_MAC, SERVER6, type V6TestContext } from './context.js';

const contexts: V6TestContext[] = [];
afterAll(() => contexts.forEach((c) => c.store.close()));
const ctxFor = (over = {}) => { const c = makeV6Context(over); contexts.push(c); return c; };

function answer(o: Outcome6): ClientServerMessage {
  if (o.kind !== 'reply') throw new Error(`dropped: ${o.reason} ${o.detail}`);
  const p = parseDhcpv6(o.bytes);
  if (!p.ok || p.message.kind !== 'message') throw new Error('reply does not parse as a client/server message');
  return p.message;
}

function request(type: number, clientId: Buffer, options: OptionList, serverId: Buffer | null = duidLl(SERVER_MAC)): Buffer {
  return encodeDhcpv6({ type, transactionId: 0x424242, options: [[Opt6.CLIENTID, clientId], ...(serverId ? [[Opt6.SERVERID, serverId] as [number, Buffer]] : []), ...options] });
}

const ia = (iaid: number, address?: string): [number, Buffer] => [Opt6.IA_NA, iaNaValue({ iaid, t1: 0, t2: 0 }, address ? [[Opt6.IAADDR, iaAddrValue({ address, preferred: 0, valid: 0 })]] : [])];
const leaseRow = (c: V6TestContext) => c.store.db.prepare('SELECT client, ip, state FROM dhcpv6_leases').all();

describe('EUI-64 link-local addresses (RFC 4291 Appendix A)', () => {
  it('give back the MAC, with or without a zone; other addresses give none', () => {
    expect(macFromLinkLocal(OVMF_LINK_LOCAL)).toBe(MAC_OVMF);
    expect(macFromLinkLocal('fe80::5054:ff:fe12:3407')).toBe(MAC_OVMF);
    expect(macFromLinkLocal('fe80::1')).toBeUndefined();
    expect(macFromLinkLocal('2001:db8::5054:ff:fe12:3407')).toBeUndefined();
  });
});

describe('a Solicit again before the Request', () => {
  it('is advertised the same address, so whichever Advertise the client answers, its Reply matches (the ipv6-boot e2e once saw them differ under load)', () => {
    const c = ctxFor();
    const first = answer(handleDhcpv6(c, ovmfHttpSolicit(), OVMF_LINK_LOCAL)).options.iaNa[0]!.addresses[0]!.address;
    const again = answer(handleDhcpv6(c, ovmfHttpSolicit(), OVMF_LINK_LOCAL)).options.iaNa[0]!.addresses[0]!.address;
    expect(again).toBe(first);
    // Another client still gets another address.
    const other = answer(handleDhcpv6(c, ipxeSolicit(), 'fe80::5054:ff:fe12:3408')).options.iaNa[0]!.addresses[0]!.address;
    expect(other).not.toBe(first);
  });
});

describe('UEFI PXEv6: Solicit → Advertise, Request → Reply', () => {
  const c = ctxFor();
  let offered = '';

  it('advertises a pool address, Preference 255 and option 59 tftp://[server]/snponly.efi', () => {
    const a = answer(handleDhcpv6(c, ovmfPxeSolicit(), OVMF_LINK_LOCAL));
    expect(a.type).toBe(Msg6.ADVERTISE);
    expect(a.transactionId).toBe(0x0a0b0c);
    expect(a.options.serverId?.raw.equals(duidLl(SERVER_MAC))).toBe(true);
    expect(a.options.clientId?.raw.equals(duidUuid())).toBe(true);
    expect(a.options.preference).toBe(255);
    expect(a.options.iaNa[0]!.iaid).toBe(0x12340007);
    offered = a.options.iaNa[0]!.addresses[0]!.address;
    expect(offered).toBe('2001:db8:7::1000');
    expect(a.options.bootFileUrl).toBe(`tftp://[${SERVER6}]/snponly.efi`);
    expect(a.options.vendorClass).toEqual([]); // not an HTTP-boot client
    expect(leaseRow(c)).toEqual([]); // an Advertise commits nothing
  });

  it('binds the advertised address on Request and stores the lease under the MAC from the EUI-64 source', () => {
    const m = request(Msg6.REQUEST, duidUuid(), [ia(0x12340007, offered), [Opt6.ORO, u16ListValue([59])], [Opt6.CLIENT_ARCH_TYPE, u16ListValue([7])], [Opt6.VENDOR_CLASS, vendorClassValue(343, ['PXEClient:Arch:00007:UNDI:003000'])]]);
    const r = answer(handleDhcpv6(c, m, OVMF_LINK_LOCAL));
    expect(r.type).toBe(Msg6.REPLY);
    expect(r.options.iaNa[0]!.addresses[0]).toMatchObject({ address: offered, valid: 3600, preferred: 3600 });
    expect(r.options.iaNa[0]!.t1).toBe(1800);
    expect(r.options.bootFileUrl).toBe(`tftp://[${SERVER6}]/snponly.efi`);
    expect(leaseRow(c)).toEqual([{ client: MAC_OVMF, ip: offered, state: 'bound' }]);
    // DHCP saw the node: its sighting is recorded as for DHCPv4.
    expect(c.store.nodeByMac(MAC_OVMF)?.name).toBe('ovmf-6');
  });

  it('gives iPXE on the same machine (DUID-LL, another IAID) the same address, and the script URL', () => {
    const solicit = encodeDhcpv6({ type: Msg6.SOLICIT, transactionId: 7, options: [[Opt6.CLIENTID, duidLl(MAC_OVMF)], ia(99), [Opt6.USER_CLASS, Buffer.from('0004695058450', 'hex').subarray(0, 6)], [Opt6.ORO, u16ListValue([59])]] });
    const a = answer(handleDhcpv6(c, solicit, 'fe80::99%rb0'));
    expect(a.options.iaNa[0]!.addresses[0]!.address).toBe(offered);
    expect(a.options.bootFileUrl).toBe(`http://[${SERVER6}]:8080/boot.ipxe`);
  });

  it('drops a Request for another server, and a Solicit that names a server', () => {
    const other = handleDhcpv6(c, request(Msg6.REQUEST, duidUuid(), [ia(1, offered)], duidLl('02:00:00:00:00:99')), OVMF_LINK_LOCAL);
    expect(other).toMatchObject({ kind: 'drop', reason: 'other-server' });
    expect(handleDhcpv6(c, request(Msg6.SOLICIT, duidUuid(), [ia(1)]), OVMF_LINK_LOCAL)).toMatchObject({ kind: 'drop', reason: 'server-id-present' });
    expect(handleDhcpv6(c, encodeDhcpv6({ type: Msg6.SOLICIT, transactionId: 1, options: [ia(1)] }), OVMF_LINK_LOCAL)).toMatchObject({ kind: 'drop', reason: 'no-client-id' });
    expect(handleDhcpv6(c, encodeDhcpv6({ type: Msg6.ADVERTISE, transactionId: 1, options: [] }), OVMF_LINK_LOCAL)).toMatchObject({ kind: 'drop', reason: 'not-client-message' });
  });
});

describe('UEFI HTTPv6', () => {
  it('gets http://[server]:port/ipxe/snponly.efi and the vendor class HTTPClient (option 16)', () => {
    const c = ctxFor();
    const a = answer(handleDhcpv6(c, ovmfHttpSolicit(), OVMF_LINK_LOCAL));
    expect(a.options.bootFileUrl).toBe(`http://[${SERVER6}]:8080/ipxe/snponly.efi`);
    expect(a.options.vendorClass).toEqual([{ enterprise: 343, data: ['HTTPClient'] }]);
  });
  it('gets no URL when the binary is not there, and BIOS (arch 0) gets none either', () => {
    const c = ctxFor();
    c.inTftpRoot = () => false;
    expect(answer(handleDhcpv6(c, ovmfHttpSolicit(), OVMF_LINK_LOCAL)).options.bootFileUrl).toBeUndefined();
    const bios = request(Msg6.SOLICIT, duidLl(MAC_OVMF), [ia(1), [Opt6.CLIENT_ARCH_TYPE, u16ListValue([0])], [Opt6.VENDOR_CLASS, vendorClassValue(343, ['PXEClient:Arch:00000:UNDI:002001'])]], null);
    expect(answer(handleDhcpv6(ctxFor(), bios, OVMF_LINK_LOCAL)).options.bootFileUrl).toBeUndefined();
  });
});

describe('Rapid Commit (RFC 8415 §18.3.1)', () => {
  it('answers a Solicit with Rapid Commit by a Reply and a stored lease', () => {
    const c = ctxFor();
    const r = answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0'));
    expect(r.type).toBe(Msg6.REPLY);
    expect(r.options.rapidCommit).toBe(true);
    expect(r.options.bootFileUrl).toBe(`http://[${SERVER6}]:8080/boot.ipxe`);
    expect(leaseRow(c)).toEqual([{ client: MAC_IPXE, ip: '2001:db8:7::1000', state: 'bound' }]);
  });
  it('with rapidCommit off, advertises instead', () => {
    const c = ctxFor({ rapidCommit: false });
    expect(answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0')).type).toBe(Msg6.ADVERTISE);
    expect(leaseRow(c)).toEqual([]);
  });
});

describe('relayed clients (RFC 8415 §19.3.8, RFC 6939)', () => {
  it('answers with a Relay-Reply and keys the client by the MAC in option 79', () => {
    const c = ctxFor();
    const o = handleDhcpv6(c, relayedSolicit('52:54:00:aa:bb:cc'), '2001:db8:7::2');
    if (o.kind !== 'reply') throw new Error(o.detail);
    const un = unwrapRelays(Buffer.concat([Buffer.from([12]), o.bytes.subarray(1)])); // read the Relay-Reply as a forward to unwrap it
    if (!un.ok) throw new Error(un.error.detail);
    expect(o.bytes[0]).toBe(Msg6.RELAY_REPL);
    expect(un.relays[0]!.options.interfaceId?.toString()).toBe('eth3');
    expect(un.inner.type).toBe(Msg6.ADVERTISE);
    expect(o.detail).toContain('52:54:00:aa:bb:cc');
    expect(c.store.listDiscovered().map((d) => d.mac)).toContain('52:54:00:aa:bb:cc');
  });
});

describe('Renew, Rebind, Confirm, Release, Decline, Information-Request', () => {
  const c = ctxFor();
  const id = duidLl(MAC_IPXE);
  answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0'));
  const ip = '2001:db8:7::1000';

  it('Renew extends a binding the server has, and says NoBinding for one it has not', () => {
    c.clock.t += 1000_000;
    const r = answer(handleDhcpv6(c, request(Msg6.RENEW, id, [ia(0x0806, ip)]), 'fe80::1%rb0'));
    expect(r.options.iaNa[0]!.addresses[0]!.valid).toBe(3600);
    const row = c.store.db.prepare('SELECT expires_at FROM dhcpv6_leases WHERE ip=?').get(ip) as { expires_at: number };
    expect(row.expires_at).toBe(c.clock.t + 3600_000);
    const none = answer(handleDhcpv6(c, request(Msg6.RENEW, duidLl('52:54:00:00:00:01'), [ia(5, '2001:db8:7::1001')]), 'fe80::2%rb0'));
    expect(none.options.iaNa[0]!.status?.code).toBe(3);
  });

  it('Rebind of an address outside the prefix gets zero lifetimes', () => {
    const r = answer(handleDhcpv6(c, request(Msg6.REBIND, duidLl('52:54:00:00:00:02'), [ia(5, '2001:db8:99::5')], null), 'fe80::3%rb0'));
    expect(r.options.iaNa[0]!.addresses[0]).toMatchObject({ address: '2001:db8:99::5', valid: 0, preferred: 0 });
  });

  it('Confirm says Success on-link and NotOnLink off-link', () => {
    expect(answer(handleDhcpv6(c, request(Msg6.CONFIRM, id, [ia(1, ip)], null), 'fe80::1%rb0')).options.status?.code).toBe(0);
    expect(answer(handleDhcpv6(c, request(Msg6.CONFIRM, id, [ia(1, '2001:db8:99::1')], null), 'fe80::1%rb0')).options.status?.code).toBe(4);
  });

  it('Information-Request gets DNS and the boot file URL, no address', () => {
    const m = encodeDhcpv6({ type: Msg6.INFORMATION_REQUEST, transactionId: 3, options: [[Opt6.ORO, u16ListValue([23, 59])], [Opt6.USER_CLASS, Buffer.from([0, 4, 0x69, 0x50, 0x58, 0x45])]] });
    const r = answer(handleDhcpv6(c, m, 'fe80::1%rb0'));
    expect(r.options.dnsServers).toEqual(['2001:db8:7::53']);
    expect(r.options.bootFileUrl).toBe(`http://[${SERVER6}]:8080/boot.ipxe`);
    expect(r.options.iaNa).toEqual([]);
  });

  it('Release frees the address; Decline keeps it from everyone', () => {
    expect(answer(handleDhcpv6(c, request(Msg6.RELEASE, id, [ia(0x0806, ip)]), 'fe80::1%rb0')).options.status?.code).toBe(0);
    expect(leaseRow(c)).toEqual([{ client: MAC_IPXE, ip, state: 'released' }]);
    answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0'));
    answer(handleDhcpv6(c, request(Msg6.DECLINE, id, [ia(0x0806, ip)]), 'fe80::1%rb0'));
    expect(leaseRow(c)).toEqual([{ client: `declined:${ip}`, ip, state: 'declined' }]);
    const next = answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0'));
    expect(next.options.iaNa[0]!.addresses[0]!.address).not.toBe(ip);
  });
});

describe('a full pool', () => {
  it('says NoAddrsAvail in the IA and still hands out the boot file URL', () => {
    const c = ctxFor({ pool: { start: '2001:db8:7::1000', end: '2001:db8:7::1000' } });
    answer(handleDhcpv6(c, ipxeSolicit(true), 'fe80::1%rb0'));
    const a = answer(handleDhcpv6(c, ovmfPxeSolicit(), OVMF_LINK_LOCAL));
    expect(a.options.iaNa[0]!.status?.code).toBe(2);
    expect(a.options.iaNa[0]!.addresses).toEqual([]);
    expect(a.options.bootFileUrl).toBe(`tftp://[${SERVER6}]/snponly.efi`);
  });
});
