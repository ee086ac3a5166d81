// DHCPv6 client messages shaped as the clients send them: OVMF's PXEv6
// (EDK2 NetworkPkg/UefiPxeBcDxe/PxeBcDhcp6.c: ORO, Client ID as DUID-UUID,
// IA_NA, Elapsed Time, Vendor Class "PXEClient:Arch:00007:...", options 61
// and 62), OVMF's HTTPv6 (NetworkPkg/HttpBootDxe/HttpBootDhcp6.c: the same
// with "HTTPClient:Arch:00016"), iPXE (DUID-LL, user class "iPXE"), and a
// relay's Relay-Forward with Interface-Id and option 79.
import { encodeDhcpv6, encodeRelay, Msg6 } from '../../src/dhcpv6/codec.js';
import { duidLl, iaNaValue, lengthPrefixedValue, Opt6, u16ListValue, vendorClassValue, type OptionList } from '../../src/dhcpv6/options.js';

export const MAC_OVMF = '52:54:00:12:34:07';
export const MAC_IPXE = '52:54:00:12:34:08';
export const UUID_BYTES = Buffer.from('44332211665588779900aabbccddeeff', 'hex');

export const duidUuid = () => Buffer.concat([Buffer.from([0, 4]), UUID_BYTES]);
export const duidLlt = (mac: string) => Buffer.concat([Buffer.from('000100012f3a1b2c', 'hex'), Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))]);

function firmware(type: number, vendor: string, arch: number, clientId: Buffer, extra: OptionList = []): Buffer {
  return encodeDhcpv6({
    type, transactionId: 0x0a0b0c,
    options: [
      [Opt6.ORO, u16ListValue([Opt6.BOOTFILE_URL, Opt6.BOOTFILE_PARAM, Opt6.VENDOR_CLASS, Opt6.DNS_SERVERS])],
      [Opt6.CLIENTID, clientId],
      [Opt6.IA_NA, iaNaValue({ iaid: 0x12340007, t1: 0, t2: 0 }, [])],
      [Opt6.ELAPSED_TIME, Buffer.from([0, 0])],
      [Opt6.CLIENT_ARCH_TYPE, u16ListValue([arch])],
      [Opt6.NII, Buffer.from([1, 3, 0])],
      [Opt6.VENDOR_CLASS, vendorClassValue(343, [vendor])],
      ...extra,
    ],
  });
}

export const ovmfPxeSolicit = () => firmware(Msg6.SOLICIT, 'PXEClient:Arch:00007:UNDI:003000', 7, duidUuid());
export const ovmfHttpSolicit = () => firmware(Msg6.SOLICIT, 'HTTPClient:Arch:00016:UNDI:003000', 16, duidUuid());
export const ovmfPxeSolicitLlt = () => firmware(Msg6.SOLICIT, 'PXEClient:Arch:00007:UNDI:003000', 7, duidLlt(MAC_OVMF));
export const ipxeSolicit = (rapid = false) => encodeDhcpv6({
  type: Msg6.SOLICIT, transactionId: 0x1c2d3e,
  options: [
    [Opt6.CLIENTID, duidLl(MAC_IPXE)],
    [Opt6.IA_NA, iaNaValue({ iaid: 0x0806, t1: 0, t2: 0 }, [])],
    [Opt6.ORO, u16ListValue([Opt6.DNS_SERVERS, Opt6.BOOTFILE_URL])],
    [Opt6.USER_CLASS, lengthPrefixedValue(['iPXE'])],
    [Opt6.CLIENT_ARCH_TYPE, u16ListValue([7])],
    [Opt6.ELAPSED_TIME, Buffer.from([0, 5])],
    ...(rapid ? [[Opt6.RAPID_COMMIT, Buffer.alloc(0)] as [number, Buffer]] : []),
  ],
});

/** A relay's Relay-Forward around OVMF's Solicit (DUID-UUID, so the MAC comes only from option 79). */
export const relayedSolicit = (mac = MAC_OVMF) => encodeRelay({
  type: Msg6.RELAY_FORW, hopCount: 0, linkAddress: '2001:db8:7::1', peerAddress: 'fe80::5054:ff:fe12:3407',
  options: [
    [Opt6.INTERFACE_ID, Buffer.from('eth3')],
    [Opt6.CLIENT_LINKLAYER_ADDR, Buffer.concat([Buffer.from([0, 1]), Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))])],
    [Opt6.RELAY_MSG, ovmfPxeSolicit()],
  ],
});

export const ALL_CLIENT_MESSAGES: Array<[string, () => Buffer]> = [
  ['OVMF PXEv6 Solicit', ovmfPxeSolicit],
  ['OVMF HTTPv6 Solicit', ovmfHttpSolicit],
  ['OVMF PXEv6 Solicit (DUID-LLT)', ovmfPxeSolicitLlt],
  ['iPXE Solicit', () => ipxeSolicit(false)],
  ['iPXE Solicit with Rapid Commit', () => ipxeSolicit(true)],
  ['relayed OVMF Solicit', () => relayedSolicit()],
];
