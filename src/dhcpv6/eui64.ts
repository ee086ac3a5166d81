// RFC 4291 §2.5.1 and Appendix A: an interface identifier made from a
// 48-bit MAC is the MAC with ff:fe in the middle and the universal/local
// bit (0x02 of the first byte) inverted. Firmware that names itself by a
// DUID-UUID (OVMF does) still uses such a link-local source address, so on
// our own link the MAC can be read from it.
import { macText } from '../inventory/mac.js';
import { ipv6Bytes } from './ipv6.js';

export function macFromLinkLocal(address: string): string | undefined {
  const b = ipv6Bytes(address.replace(/%.*$/, ''));
  if (!b || b[0] !== 0xfe || (b[1]! & 0xc0) !== 0x80) return undefined;
  if (b[11] !== 0xff || b[12] !== 0xfe) return undefined;
  const mac = [b[8]! ^ 0x02, b[9]!, b[10]!, b[13]!, b[14]!, b[15]!];
  return macText(mac);
}
