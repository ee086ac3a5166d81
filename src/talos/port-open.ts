// Whether anything accepts a TCP connection at a Talos endpoint. First
// contact, and the pass that notices finished installs, ask this before they
// open a TLS connection: a node still in its firmware or kernel, or
// rebooting from its install, has nothing listening on port 50000 (refused
// at once) or does not answer at all (no ARP reply: the attempt is cut at
// `timeoutMs`). Neither costs a handshake or holds one of the few lanes the
// TLS talks go through, so a thousand booting nodes can be waited for at
// once.
import { connect } from 'node:net';
import { parseEndpoint } from './client.js';

/** How long one check may wait for a host that does not answer at all (one on the same segment refuses in microseconds). */
export const PORT_CHECK_MS = 1000;

export function portAccepts(endpoint: string, timeoutMs: number): Promise<boolean> {
  const { host, port } = parseEndpoint(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(open);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
