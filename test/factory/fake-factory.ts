// A local stand-in for Image Factory on 127.0.0.1: serves files with Range
// and If-Range, registers schematics, and misbehaves on request (dies
// mid-file, stalls, ignores Range) so the real download code meets the
// failures a WAN gives it.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFactory {
  url: string;
  files: Map<string, Buffer>;
  requests: { method: string; path: string; range?: string; ifRange?: string }[];
  /** The next N GETs of a file send half of it, then drop the connection. */
  dieMidFile: number;
  /** GETs send the headers and a few bytes, then go silent. */
  stall: boolean;
  /** Ignore Range (always answer 200 with the whole file). */
  noRange: boolean;
  registered: string[];
  /** Answer POST /schematics with an ID that is not the body's hash. */
  wrongId: boolean;
  close(): Promise<void>;
}

const etagOf = (b: Buffer) => `"${createHash('sha256').update(b).digest('hex').slice(0, 16)}"`;

export async function startFakeFactory(files: Record<string, Buffer> = {}): Promise<FakeFactory> {
  const sockets = new Set<import('node:net').Socket>();
  const f: FakeFactory = {
    url: '', files: new Map(Object.entries(files)), requests: [], dieMidFile: 0, stall: false, noRange: false, registered: [], wrongId: false,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    f.requests.push({ method: req.method ?? '', path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined });
    if (req.method === 'POST' && path === '/schematics') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        f.registered.push(body.toString('utf8'));
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: createHash('sha256').update(f.wrongId ? 'other' : body).digest('hex') }));
      });
      return;
    }
    const file = f.files.get(path);
    if (req.method !== 'GET' || !file) return void res.writeHead(404).end('not found');
    const etag = etagOf(file);
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (m && !f.noRange && (ifRange === undefined || ifRange === etag)) {
      start = Number(m[1]);
      if (start >= file.length) return void res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      res.writeHead(206, { etag, 'content-length': file.length - start, 'content-range': `bytes ${start}-${file.length - 1}/${file.length}` });
    } else {
      res.writeHead(200, { etag, 'content-length': file.length, 'accept-ranges': 'bytes' });
    }
    const body = file.subarray(start);
    if (f.stall) return void res.write(body.subarray(0, 16)); // and then nothing, forever
    if (f.dieMidFile > 0) {
      f.dieMidFile--;
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return f;
}

/** A port on 127.0.0.1 that was just free and has nothing listening: connections are refused at once. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
