// Client packets built byte by byte from what CLIENTS.md measured for iPXE
// (BIOS ROM and ipxe.efi), OVMF's PXE client, dhclient and udhcpc. Each
// builder writes the BOOTP header field by field, the magic cookie, then
// the options in the order given, option 255 and zero padding to 300 bytes.

export const MAC_BIOS = [0x52, 0x54, 0x00, 0x12, 0x34, 0x01];
export const MAC_OVMF = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];
export const MAC_EFI = [0x52, 0x54, 0x00, 0x12, 0x34, 0x11];
export const MAC_UNKNOWN = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];

/** 11223344-5566-7788-99aa-bbccddeeff01 in SMBIOS wire order (first three fields little-endian). */
export const UUID_WIRE = [0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x88, 0x77, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01];
export const UUID_TEXT = '11223344-5566-7788-99aa-bbccddeeff01';

type Opt = [number, number[]];
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];
const u16 = (n: number) => [(n >> 8) & 255, n & 255];
const ip = (s: string) => s.split('.').map(Number);

export interface Header {
  op?: number;
  xid: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  mac: number[];
  hops?: number;
}

export function packet(h: Header, options: Opt[]): Buffer {
  const bytes: number[] = [];
  bytes.push(h.op ?? 1, 1, h.mac.length, h.hops ?? 0);
  bytes.push((h.xid >>> 24) & 255, (h.xid >>> 16) & 255, (h.xid >>> 8) & 255, h.xid & 255);
  bytes.push(...u16(h.secs ?? 0), ...u16(h.flags ?? 0));
  for (const a of [h.ciaddr, h.yiaddr, h.siaddr, h.giaddr]) bytes.push(...ip(a ?? '0.0.0.0'));
  const chaddr = new Array(16).fill(0);
  h.mac.forEach((b, i) => (chaddr[i] = b));
  bytes.push(...chaddr);
  bytes.push(...new Array(64).fill(0), ...new Array(128).fill(0)); // sname, file
  bytes.push(0x63, 0x82, 0x53, 0x63);
  for (const [code, value] of options) bytes.push(code, value.length, ...value);
  bytes.push(255);
  while (bytes.length < 300) bytes.push(0);
  return Buffer.from(bytes);
}

const IPXE_PARAMS = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203];
// iPXE's option 175 feature list: PXEEXT, ISCSI, AOE, HTTP, TFTP, DNS, bzImage, ELF, EFI…
const IPXE_FEATURES = [0x10, 0x01, 0x02, 0x11, 0x01, 0x01, 0x13, 0x01, 0x01, 0x15, 0x01, 0x01, 0x17, 0x01, 0x01, 0x18, 0x01, 0x01, 0x23, 0x01, 0x01, 0x24, 0x01, 0x01];

export function ipxeBiosDiscover(xid = 0x1a2b3c4d): Buffer {
  return packet({ xid, mac: MAC_BIOS }, [
    [53, [1]], [57, u16(1472)], [93, u16(0)], [94, [1, 2, 1]], [60, ascii('PXEClient:Arch:00000:UNDI:002001')],
    [77, ascii('iPXE')], [55, IPXE_PARAMS], [175, IPXE_FEATURES], [61, [1, ...MAC_BIOS]], [97, [0, ...UUID_WIRE]],
  ]);
}

export function ipxeBiosRequest(server: string, requested: string, xid = 0x1a2b3c4d): Buffer {
  return packet({ xid, mac: MAC_BIOS }, [
    [53, [3]], [57, u16(1472)], [93, u16(0)], [94, [1, 2, 1]], [60, ascii('PXEClient:Arch:00000:UNDI:002001')],
    [77, ascii('iPXE')], [55, IPXE_PARAMS], [175, IPXE_FEATURES], [61, [1, ...MAC_BIOS]], [97, [0, ...UUID_WIRE]],
    [54, ip(server)], [50, ip(requested)],
  ]);
}

const OVMF_PARAMS = [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];

export function ovmfDiscover(xid = 0x0badcafe): Buffer {
  return packet({ xid, mac: MAC_OVMF, flags: 0x8000 }, [
    [53, [1]], [57, u16(1472)], [55, OVMF_PARAMS], [97, [0, ...UUID_WIRE]], [94, [1, 3, 0]], [93, u16(7)],
    [60, ascii('PXEClient:Arch:00007:UNDI:003000')],
  ]);
}

/** OVMF's REQUEST to the proxy on 4011: from port 4011, ciaddr set, option 57 = 65280. */
export function ovmfProxyRequest(ciaddr: string, server: string, xid = 0x0badcaff): Buffer {
  return packet({ xid, mac: MAC_OVMF, flags: 0x8000, ciaddr }, [
    [53, [3]], [54, ip(server)], [57, u16(65280)], [55, OVMF_PARAMS], [97, [0, ...UUID_WIRE]], [94, [1, 3, 0]], [93, u16(7)],
    [60, ascii('PXEClient:Arch:00007:UNDI:003000')],
  ]);
}

export function ipxeEfiDiscover(xid = 0x51525354): Buffer {
  return packet({ xid, mac: MAC_EFI }, [
    [53, [1]], [57, u16(1472)], [93, u16(7)], [94, [1, 3, 10]], [60, ascii('PXEClient:Arch:00007:UNDI:003010')],
    [77, ascii('iPXE')], [55, IPXE_PARAMS], [175, IPXE_FEATURES], [61, [1, ...MAC_EFI]], [97, [0, ...UUID_WIRE]],
  ]);
}

export function ipxeEfiRequest(server: string, requested: string, xid = 0x51525354): Buffer {
  return packet({ xid, mac: MAC_EFI }, [
    [53, [3]], [57, u16(1472)], [93, u16(7)], [94, [1, 3, 10]], [60, ascii('PXEClient:Arch:00007:UNDI:003010')],
    [77, ascii('iPXE')], [55, IPXE_PARAMS], [175, IPXE_FEATURES], [61, [1, ...MAC_EFI]], [97, [0, ...UUID_WIRE]],
    [54, ip(server)], [50, ip(requested)],
  ]);
}

/** iPXE EFI's proxy REQUEST: from 68 to 4011, with its leased address in ciaddr. */
export function ipxeEfiProxyRequest(ciaddr: string, xid = 0x51525355): Buffer {
  return packet({ xid, mac: MAC_EFI, ciaddr }, [
    [53, [3]], [57, u16(1472)], [93, u16(7)], [94, [1, 3, 10]], [60, ascii('PXEClient:Arch:00007:UNDI:003010')],
    [77, ascii('iPXE')], [55, IPXE_PARAMS], [97, [0, ...UUID_WIRE]],
  ]);
}

/** A plain DHCP client (dhclient-like): no option 60, 93 or 97. */
export function plainDiscover(mac: number[], xid = 0x22334455, extra: Opt[] = []): Buffer {
  return packet({ xid, mac }, [[53, [1]], [55, [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]], ...extra]);
}

export function plainRequest(mac: number[], opts: { server?: string; requested?: string; ciaddr?: string; giaddr?: string; xid?: number }, extra: Opt[] = []): Buffer {
  const o: Opt[] = [[53, [3]]];
  if (opts.server) o.push([54, ip(opts.server)]);
  if (opts.requested) o.push([50, ip(opts.requested)]);
  return packet({ xid: opts.xid ?? 0x22334455, mac, ciaddr: opts.ciaddr, giaddr: opts.giaddr }, [...o, ...extra]);
}

export function message(type: number, mac: number[], opts: { server?: string; requested?: string; ciaddr?: string; giaddr?: string } = {}, extra: Opt[] = []): Buffer {
  const o: Opt[] = [[53, [type]]];
  if (opts.server) o.push([54, ip(opts.server)]);
  if (opts.requested) o.push([50, ip(opts.requested)]);
  return packet({ xid: 0x01020304, mac, ciaddr: opts.ciaddr, giaddr: opts.giaddr }, [...o, ...extra]);
}

export const ALL_CAPTURES: Array<[string, () => Buffer]> = [
  ['iPXE BIOS DISCOVER', () => ipxeBiosDiscover()],
  ['iPXE BIOS REQUEST', () => ipxeBiosRequest('10.77.0.1', '10.77.0.11')],
  ['OVMF DISCOVER', () => ovmfDiscover()],
  ['OVMF proxy REQUEST (4011)', () => ovmfProxyRequest('10.77.0.50', '10.77.0.1')],
  ['iPXE EFI DISCOVER', () => ipxeEfiDiscover()],
  ['iPXE EFI REQUEST', () => ipxeEfiRequest('10.77.0.1', '10.77.0.21')],
  ['iPXE EFI proxy REQUEST (4011)', () => ipxeEfiProxyRequest('10.77.0.51')],
  ['plain DISCOVER', () => plainDiscover(MAC_UNKNOWN)],
];
