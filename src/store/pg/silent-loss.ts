// How a PostgreSQL session notices a path that died without a FIN or RST (a
// cable pulled, a firewall that drops): both ends would otherwise wait for
// TCP's retransmissions, about 15 minutes, with the server still holding the
// lost appliance's session locks (issue 21, branch pg-dhcp).
//
// Client (this appliance): TCP keepalive after 5 s idle, and TCP_USER_TIMEOUT
// 10 s, so data it sent that stays unacknowledged for 10 s ends the
// connection. Every lock-holding session sends something at least every few
// seconds (the DHCP segment polls every scaleOut.dhcpPollMs, the Talos leader
// confirms its lock every lease/3), so the client notices within its poll
// interval + 10 s. Node has no API for TCP_USER_TIMEOUT: the bindtodevice
// addon sets it; an older build without that function leaves keepalive only.
//
// Server: the session asks for keepalive after 5 s idle, every 2 s, 3 probes,
// and tcp_user_timeout 10 s (PostgreSQL's own settings; ignored on a unix
// socket), so the server ends a lost client's session, and frees its locks,
// within about 11 s of the last packet it got.
import { optionalAddonCalls } from '../../net/addon.js';

export const CLIENT_KEEPALIVE_IDLE_MS = 5_000;
export const CLIENT_USER_TIMEOUT_MS = 10_000;
export const SERVER_TCP_OPTIONS = '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c tcp_user_timeout=10000';

type SetUserTimeout = (fd: number, ms: number) => void;
let setUserTimeout: SetUserTimeout | null | undefined;

function addonSetter(): SetUserTimeout | null {
  if (setUserTimeout === undefined) setUserTimeout = optionalAddonCalls<{ setTcpUserTimeout: SetUserTimeout }>(['setTcpUserTimeout'])?.setTcpUserTimeout ?? null;
  return setUserTimeout;
}

/** Sets TCP_USER_TIMEOUT on a connected client socket; false when it could not (a unix socket, no addon). */
export function limitUnacknowledged(stream: unknown, ms = CLIENT_USER_TIMEOUT_MS): boolean {
  const sock = stream as { remotePort?: number; _handle?: { fd?: number } };
  const fd = sock._handle?.fd;
  const set = addonSetter();
  if (!set || sock.remotePort === undefined || typeof fd !== 'number' || fd < 0) return false;
  try {
    set(fd, ms);
    return true;
  } catch {
    return false;
  }
}
