import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { bindFailureReason, bindListener, bindListenerSync, ListenerBindError, listenerAddress } from '../../src/net/listener.js';

describe('bindListener', () => {
  it('turns a failed bind into one ListenerBindError naming the service and the address', async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = (held.address() as { port: number }).port;
    const second = createServer();
    try {
      const err = await bindListener('HTTP', listenerAddress('tcp', '127.0.0.1', port), () => new Promise<void>((resolve, reject) => {
        second.once('error', reject);
        second.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
      })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ListenerBindError);
      expect((err as ListenerBindError).message).toBe(`HTTP cannot listen on tcp 127.0.0.1:${port}: address already in use (EADDRINUSE): another program holds it; find it with ss -lnp`);
      expect((err as ListenerBindError).message).not.toContain('\n');
      expect(err).toMatchObject({ service: 'HTTP', address: `tcp 127.0.0.1:${port}` });
    } finally {
      held.close();
    }
  });

  it('passes a successful bind through, and names IPv6 and device-bound addresses plainly', async () => {
    expect(await bindListener('x', 'y', async () => 42)).toBe(42);
    expect(listenerAddress('udp', '::1', 69)).toBe('udp [::1]:69');
    expect(listenerAddress('udp', '0.0.0.0', 67, 'eth1')).toBe('udp 0.0.0.0:67 on eth1');
    expect(listenerAddress('icmpv6', 'ff02::2', undefined, 'eth1')).toBe('icmpv6 [ff02::2] on eth1');
  });

  it('reads the errno code, or the strerror text the native addon reports', () => {
    expect(bindFailureReason(Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES' }))).toMatch(/^permission denied \(EACCES\): ports below 1024/);
    expect(bindFailureReason(new Error('bind: Address already in use'))).toMatch(/^address already in use/);
    expect(bindFailureReason(new Error('SO_BINDTODEVICE: Operation not permitted'))).toMatch(/CAP_NET_RAW/);
    expect(bindFailureReason(new Error('something else\n    at frame'))).toBe('something else');
    expect(() => bindListenerSync('IPv6 router advertisement', 'icmpv6 on eth9', () => { throw new Error('if_nametoindex: No such device'); }))
      .toThrow('IPv6 router advertisement cannot listen on icmpv6 on eth9: no such interface (ENODEV)');
  });
});
