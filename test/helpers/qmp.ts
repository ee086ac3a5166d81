// Small helpers for tests that run a QEMU machine: one QMP command, a free
// TCP port on loopback, and polling until a condition holds.
import { connect, createServer } from 'node:net';

export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One QMP command on a fresh connection; resolves with its "return". */
export function qmp(socket: string, command: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`QMP ${command}: no answer`)); }, 5000);
    c.on('error', reject);
    c.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        if ('QMP' in msg) c.write('{"execute":"qmp_capabilities"}\n');
        else if ('return' in msg && !sent) { sent = true; c.write(JSON.stringify({ execute: command }) + '\n'); }
        else if ('return' in msg) { clearTimeout(timer); c.end(); resolve(msg.return as Record<string, unknown>); }
      }
    });
  });
}

export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    try { if (await check()) return; } catch { /* not yet */ }
  }
  throw new Error('condition not reached');
}
