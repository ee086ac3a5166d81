// portAccepts against real sockets on loopback.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { portAccepts } from '../../src/talos/port-open.js';
import { freePort } from './helpers.js';

describe('portAccepts', () => {
  it('is true where something listens, false at once where nothing does', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      expect(await portAccepts(`127.0.0.1:${port}`, 1000)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const closed = await freePort('127.0.0.1');
    const started = Date.now();
    expect(await portAccepts(`127.0.0.1:${closed}`, 5000)).toBe(false);
    // Refused, not timed out.
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
