// Every socket the daemon listens on (HTTP, the admin listener, DHCP, TFTP,
// the console receiver, router advertisements) binds through bindListener,
// so a port that is taken or forbidden surfaces as one ListenerBindError
// naming the service and the address. `serve` prints its message as one
// line and exits non-zero: an operator needs the address, not a stack.

export class ListenerBindError extends Error {
  constructor(
    /** Which listener, e.g. "HTTP", "DHCP", "TFTP", "console receiver". */
    readonly service: string,
    /** Where it tried to listen, e.g. "tcp 127.0.0.1:8080" or "udp 0.0.0.0:67 on eth1". */
    readonly address: string,
    readonly reason: string,
  ) {
    super(`${service} cannot listen on ${address}: ${reason}`);
    this.name = 'ListenerBindError';
  }
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (EADDRINUSE): another program holds it; find it with ss -lnp',
  EACCES: 'permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE',
  EPERM: 'operation not permitted (EPERM): binding to an interface needs CAP_NET_RAW',
  EADDRNOTAVAIL: 'address not available (EADDRNOTAVAIL): no interface on this host has it',
  ENODEV: 'no such interface (ENODEV)',
};

/** A short reason for a failed bind: by errno code, else the first line of the message. */
export function bindFailureReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const byCode = e?.code ? REASONS[e.code] : undefined;
  if (byCode) return byCode;
  const message = String(e?.message ?? err).split('\n')[0]!;
  // The native addon reports strerror text ("bind: Address already in use").
  for (const [code, text] of [['EADDRINUSE', 'Address already in use'], ['EACCES', 'Permission denied'], ['EPERM', 'Operation not permitted'], ['EADDRNOTAVAIL', 'Cannot assign requested address'], ['ENODEV', 'No such device']] as const) {
    if (message.includes(text)) return REASONS[code]!;
  }
  return message;
}

/** "tcp 127.0.0.1:8080", "udp [::1]:69", with " on IFACE" when bound to a device. */
export function listenerAddress(proto: 'tcp' | 'udp' | 'icmpv6', host: string, port?: number, iface?: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${proto} ${port === undefined ? h : `${h}:${port}`}${iface ? ` on ${iface}` : ''}`;
}

/** Runs `bind`; any failure becomes a ListenerBindError for `service` at `address`. */
export async function bindListener<T>(service: string, address: string, bind: () => T | Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    throw asBindError(service, address, err);
  }
}

/** The same for sockets opened synchronously (the addon's raw ICMPv6 socket). */
export function bindListenerSync<T>(service: string, address: string, bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    throw asBindError(service, address, err);
  }
}

function asBindError(service: string, address: string, err: unknown): ListenerBindError {
  return err instanceof ListenerBindError ? err : new ListenerBindError(service, address, bindFailureReason(err));
}
