// kill -9 `rackboot assets fetch` (the built CLI) mid-download, five times:
// no torn file ever sits at a final path, and a rerun completes the cache
// with the right bytes, resuming the partial file.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schematicId } from '../../src/factory/schematic.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { loadSettings } from '../../src/settings/settings.js';
import { cleanupDir, REPO, tempDir, writeConfig } from '../dhcp/netns/harness.js';

const VERSION = 'v1.11.5';
const FILES: Record<string, Buffer> = { 'kernel-amd64': randomBytes(6 << 20), 'initramfs-amd64.xz': randomBytes(10 << 20) };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Range-capable, and slow enough (about 8 MB/s) that a kill lands mid-file. */
function throttledFactory(): Promise<{ server: Server; url: string; ranges: string[] }> {
  const ranges: string[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const name = (req.url ?? '').split('/').pop()!;
    const file = new RegExp(`^/image/[0-9a-f]{64}/${VERSION}/`).test(req.url ?? '') ? FILES[name] : undefined;
    if (!file) return void res.writeHead(404).end();
    const etag = `"${sha(file).slice(0, 16)}"`;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let at = 0;
    if (m && req.headers['if-range'] === etag) {
      at = Number(m[1]);
      ranges.push(req.headers.range!);
      res.writeHead(206, { etag, 'content-length': file.length - at, 'content-range': `bytes ${at}-${file.length - 1}/${file.length}` });
    } else {
      res.writeHead(200, { etag, 'content-length': file.length });
    }
    const pump = () => {
      if (res.destroyed) return;
      if (at >= file.length) return void res.end();
      res.write(file.subarray(at, (at += 128 * 1024)));
      setTimeout(pump, 15);
    };
    pump();
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, ranges })));
}

let dir: string;
let factory: Awaited<ReturnType<typeof throttledFactory>>;
beforeAll(async () => {
  dir = tempDir();
  factory = await throttledFactory();
});
afterAll(async () => {
  factory.server.closeAllConnections();
  await new Promise((r) => factory.server.close(r));
  cleanupDir(dir);
});

function fetchAssets(config: string) {
  return spawn(process.execPath, [join(REPO, 'dist/cli.js'), 'assets', 'fetch', '--config', config], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('kill -9 during asset downloads', () => {
  it('never leaves a torn file at a final path, and a rerun completes by resuming', async () => {
    const config = writeConfig(dir, { dhcp: { mode: 'off' }, tftp: { enabled: false }, factory: { url: factory.url } }, [{ name: 'cp-1', mac: '52:54:00:12:34:01' }]);
    const inv = loadInventoryFile(join(dir, 'cluster.yaml'));
    if (!inv.ok) throw new Error('test inventory rejected');
    const cache = join(loadSettings({ config }).assetsDir, schematicId(inv.inventory.cluster.schematic), VERSION);
    const finals = Object.keys(FILES).map((n) => join(cache, n));
    const parts = finals.map((f) => `${f}.part`);
    const partSize = () => parts.reduce((s, p) => s + (existsSync(p) ? statSync(p).size : 0), 0);
    const checkFinals = () => {
      for (const [i, f] of finals.entries()) {
        if (existsSync(f)) expect(sha(readFileSync(f)), f).toBe(sha(FILES[Object.keys(FILES)[i]!]!));
      }
    };

    for (let round = 0; round < 5; round++) {
      const p = fetchAssets(config);
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      const before = partSize();
      // Kill once this round has written something new (and never later than 10 s).
      const deadline = Date.now() + 10_000;
      while (partSize() <= before + 256 * 1024 && p.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(p.exitCode, `round ${round} finished before the kill: ${stderr}`).toBeNull();
      p.kill('SIGKILL');
      await exited;
      checkFinals();
    }
    expect(finals.some((f) => !existsSync(f)), 'five kills should leave at least one file unfinished').toBe(true);

    const p = fetchAssets(config);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code, out).toBe(0);
    for (const [i, f] of finals.entries()) expect(readFileSync(f).equals(FILES[Object.keys(FILES)[i]!]!), f).toBe(true);
    for (const part of parts) expect(existsSync(part)).toBe(false);
    expect(factory.ranges.length).toBeGreaterThan(0); // the reruns resumed, not restarted
  }, 120_000);
});
