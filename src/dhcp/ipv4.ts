// IPv4 address arithmetic for subnets and pools.

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Subnet {
  network: number;
  prefix: number;
  mask: string;
  broadcast: string;
}

export function parseCidr(cidr: string): Subnet {
  const [addr = '0.0.0.0', bits = '32'] = cidr.split('/');
  const prefix = Number(bits);
  const maskInt = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(addr) & maskInt) >>> 0;
  return { network, prefix, mask: intToIp(maskInt), broadcast: intToIp((network | (~maskInt >>> 0)) >>> 0) };
}

export function inSubnet(ip: string, s: Subnet): boolean {
  const maskInt = s.prefix === 0 ? 0 : (0xffffffff << (32 - s.prefix)) >>> 0;
  return ((ipToInt(ip) & maskInt) >>> 0) === s.network;
}

export const ZERO = '0.0.0.0';
export const BROADCAST = '255.255.255.255';
