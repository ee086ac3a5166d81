// images fetch against our own /v2/ on loopback (never the internet): once
// directly through ?ns=, once behind a stand-in registry front that demands a
// bearer token and redirects blobs elsewhere, as ghcr.io and Docker Hub do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { testAppliance, type TestAppliance } from '../helpers/appliance.js';
import { buildImage, tarLayout, writeLayout, type BuiltImage } from '../helpers/oci-image.js';
import { ImageStore } from '../../src/registry/image-store.js';
import { importArchive } from '../../src/registry/oci-archive.js';
import { fetchImages } from '../../src/registry/fetch.js';

let a: TestAppliance;
let base: string;
let tool: BuiltImage;
let busybox: BuiltImage;
let front: Server;
let frontUrl: string;
const seen: string[] = [];
let scratch: string;

beforeAll(async () => {
  a = await testAppliance();
  scratch = mkdtempSync(join(tmpdir(), 'rb-fetch-'));
  tool = await buildImage('ghcr.io/rackboot-test/tool:v1', 'tool');
  busybox = await buildImage('docker.io/library/busybox:1.36', 'busybox', { docker: true });
  writeLayout(join(a.dir, 'layout'), [tool, busybox]);
  tarLayout(join(a.dir, 'layout'), join(a.dir, 'images.tar'));
  await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'images.tar'));
  await a.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(a.app.server.address() as { port: number }).port}`;

  // The front: /token hands out a token; /v2/ wants it; blobs are redirected to the appliance.
  front = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url!.startsWith('/token')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t0k"}');
    if (req.headers.authorization !== 'Bearer t0k') {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="${frontUrl}/token",service="front",scope="repository:x:pull"` }).end();
    }
    if (req.url!.includes('/blobs/')) return res.writeHead(307, { location: `${base}${req.url}` }).end();
    void request(`${base}${req.url}`, { headers: { accept: req.headers.accept ?? '' } }).then(async (up) => {
      const body = Buffer.from(await up.body.arrayBuffer());
      res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type']), 'docker-content-digest': String(up.headers['docker-content-digest'] ?? '') }).end(body);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontUrl = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => front.close(r));
  await a.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('fetchImages', () => {
  it('pulls every platform of OCI and Docker images from another rackboot, the same digests and bytes', async () => {
    const store = new ImageStore(join(scratch, 'direct'));
    const got = await fetchImages(store, [{ name: 'ghcr.io/rackboot-test/tool', tag: 'v1' }, { name: 'docker.io/library/busybox', tag: '1.36' }], { from: base });
    expect(got.map((g) => g.digest)).toEqual([tool.digest, busybox.digest]);
    expect(store.images()).toEqual(new ImageStore(a.settings.dataDir).images());
    for (const [d, b] of [...tool.blobs, ...busybox.blobs]) expect(readFileSync(store.blobPath(d)).equals(b)).toBe(true);
    expect(store.manifest('docker.io/library/busybox', '1.36')?.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
  });

  it('gets a bearer token on a 401 and follows blob redirects to another host', async () => {
    seen.length = 0;
    const store = new ImageStore(join(scratch, 'front'));
    await fetchImages(store, [{ name: 'ghcr.io/rackboot-test/tool', tag: 'v1' }], { from: frontUrl });
    expect(store.images().map((i) => i.digest)).toEqual([tool.digest]);
    expect(seen[0]).toMatch(/^GET \/v2\/rackboot-test\/tool\/manifests\/v1\?ns=ghcr\.io -$/);
    expect(seen[1]).toMatch(/^GET \/token\?service=front&scope=repository%3Ax%3Apull -$/);
    expect(seen.filter((s) => s.includes('/blobs/')).every((s) => s.endsWith('Bearer t0k'))).toBe(true);
    expect(store.blobDigests().sort()).toEqual([...tool.blobs.keys()].sort());
  });

  it('adds nothing when an image is missing upstream', async () => {
    const store = new ImageStore(join(scratch, 'missing'));
    await expect(fetchImages(store, [{ name: 'ghcr.io/rackboot-test/tool', tag: 'v1' }, { name: 'ghcr.io/rackboot-test/tool', tag: 'v404' }], { from: base }))
      .rejects.toThrow(/v404.*HTTP 404.*MANIFEST_UNKNOWN/);
    expect(store.blobDigests()).toEqual([]);
    expect(store.images()).toEqual([]);
  });
});
