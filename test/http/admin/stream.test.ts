import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, harness } from './harness.js';

describe('/api/stream (Server-Sent Events)', () => {
  it('sends fragments at once and again when the store changes, console lines for a node, and ends on close', async () => {
    const h = await harness();
    let closed = false;
    try {
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      const addr = h.app.server.address();
      const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
      const overview = await fetch(`${base}/api/stream`, { headers });
      expect(overview.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const node = await fetch(`${base}/api/stream?node=w-1`, { headers });
      expect((await fetch(`${base}/api/stream?node=nope`, { headers })).status).toBe(404);
      const decoder = new TextDecoder();
      const reader = overview.body!.getReader();
      const nodeReader = node.body!.getReader();
      const next = async (r: ReadableStreamDefaultReader<Uint8Array>) => {
        let text = '';
        while (!text.endsWith('\n\n')) {
          const { value, done } = await r.read();
          if (done) return { text, done: true };
          text += decoder.decode(value);
        }
        return { text, done: false };
      };
      const first = (await next(reader)).text;
      expect(first).toMatch(/^event: fragments\ndata: /);
      expect(JSON.parse(first.split('data: ')[1]!)['nodes-body']).toContain('data-state="registered"');
      await next(nodeReader);

      h.ctx.lifecycle.installBootServed(h.store.getNode('w-1')!, 'install');
      const update = JSON.parse((await next(reader)).text.split('data: ')[1]!);
      expect(update['nodes-body']).toContain('data-node="w-1" data-state="booting"');

      h.ctx.console!.add('w-1', { at: 5, msg: 'hello console', fields: {} });
      let got = '';
      while (!got.includes('event: console')) got = (await next(nodeReader)).text;
      expect(got).toContain('data: {"at":5,"msg":"hello console"}');
      h.ctx.console!.add('w-1', { at: 6, msg: 'SeaBIOS', fields: { source: 'sol' } });
      while (!got.includes('SeaBIOS')) got = (await next(nodeReader)).text;
      expect(got).toContain('data: {"at":6,"msg":"SeaBIOS","source":"sol"}');

      await h.close();
      closed = true;
      expect((await next(reader)).done).toBe(true);
    } finally {
      if (!closed) await h.close();
    }
  });
});
