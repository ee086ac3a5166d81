// The DHCP socket's receive buffer. The addon asks for 4 MiB (UDP4_RCVBUF in
// native/bindtodevice/bindtodevice.c) so a burst that arrives while the
// event loop is busy waits in the kernel instead of being dropped (163
// overflows at 1,000 DISCOVERs/s with the 208 KiB default, none at 1,600/s
// with 4 MiB; README, Performance). SO_RCVBUFFORCE needs CAP_NET_ADMIN,
// which the systemd unit does not grant, so there the kernel caps the
// request at net.core.rmem_max: systemd/60-rackboot.conf raises it.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Finding } from './doctor.js';

/** What openUdp4 asks for; test/cli/doctor-dhcp-buffer.test.ts holds it equal to UDP4_RCVBUF. */
export const DHCP_RECEIVE_BUFFER_BYTES = 4 << 20;

const SYSCTL_DROP_IN = 'systemd/60-rackboot.conf';

/**
 * The buffer the kernel gives a socket that asks for `bytes` with SO_RCVBUF,
 * as the daemon does without CAP_NET_ADMIN. Linux reports twice what it
 * grants (half is its bookkeeping), so this is halved to compare with what
 * was asked.
 */
export async function grantedReceiveBuffer(bytes: number): Promise<number> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ port: 0, address: '127.0.0.1' }, () => resolve());
    });
    s.setRecvBufferSize(bytes);
    return s.getRecvBufferSize() / 2;
  } finally {
    s.close();
  }
}

function rmemMax(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    return undefined;
  }
}

const kib = (n: number) => `${Math.round(n / 1024)} KiB`;

export function dhcpReceiveBufferFinding(granted: number, asked = DHCP_RECEIVE_BUFFER_BYTES, limit = rmemMax()): Finding {
  const check = 'DHCP receive buffer';
  if (granted >= asked) return { level: 'ok', check, detail: `${kib(granted)} of the ${kib(asked)} the DHCP socket asks for` };
  return {
    level: 'warn', check,
    detail: `the DHCP socket gets ${kib(granted)} of the ${kib(asked)} it asks for (net.core.rmem_max is ${limit ?? 'unknown'}; the systemd unit has no CAP_NET_ADMIN to pass it): a burst of DISCOVERs while the event loop is busy can overflow it and be dropped`,
    fix: `install ${SYSCTL_DROP_IN} as /usr/lib/sysctl.d/60-rackboot.conf and run: sysctl --system (or: sysctl -w net.core.rmem_max=${asked})`,
  };
}
