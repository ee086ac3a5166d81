import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import { testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { buildImage, tarLayout, writeLayout, type BuiltImage } from '../../helpers/oci-image.js';
import { ImageStore } from '../../../src/registry/image-store.js';
import { importArchive } from '../../../src/registry/oci-archive.js';

let a: TestAppliance;
let base: string;
let img: BuiltImage;
let dockerImg: BuiltImage;
beforeEach(async () => {
  a = await testAppliance();
  img = await buildImage('ghcr.io/siderolabs/installer:v1.11.5', 'installer');
  dockerImg = await buildImage('docker.io/library/busybox:1.36', 'busybox', { docker: true });
  writeLayout(join(a.dir, 'layout'), [img, dockerImg]);
  tarLayout(join(a.dir, 'layout'), join(a.dir, 'images.tar'));
  await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'images.tar'));
  await a.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(a.app.server.address() as { port: number }).port}`;
});
afterEach(async () => a.close());

async function get(path: string, opts: { method?: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST'; headers?: Record<string, string> } = {}) {
  const res = await request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe('/v2/ read-only OCI distribution endpoint', () => {
  it('answers the API version check anonymously', async () => {
    const res = await get('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('serves an OCI index by tag with its media type and digest, a name with slashes', async () => {
    const res = await get('/v2/ghcr.io/siderolabs/installer/manifests/v1.11.5');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    expect(res.headers['docker-content-digest']).toBe(img.digest);
    expect(res.body.equals(img.blobs.get(img.digest)!)).toBe(true);
  });

  it('serves a platform manifest by digest, and the same through containerd\'s ?ns= mirror form', async () => {
    const digest = img.platforms[1]!.manifest;
    for (const path of [`/v2/ghcr.io/siderolabs/installer/manifests/${digest}`, `/v2/siderolabs/installer/manifests/${digest}?ns=ghcr.io`]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(res.headers['docker-content-digest']).toBe(digest);
      expect(res.body.equals(img.blobs.get(digest)!)).toBe(true);
    }
  });

  it('serves Docker schema 2 manifest lists and manifests in their own media types', async () => {
    const list = await get('/v2/library/busybox/manifests/1.36?ns=docker.io');
    expect(list.headers['content-type']).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    const m = await get(`/v2/docker.io/library/busybox/manifests/${dockerImg.platforms[0]!.manifest}`);
    expect(m.headers['content-type']).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('answers HEAD on a manifest with its length and digest and no body', async () => {
    const res = await get('/v2/ghcr.io/siderolabs/installer/manifests/v1.11.5', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(img.blobs.get(img.digest)!.length));
    expect(res.headers['docker-content-digest']).toBe(img.digest);
    expect(res.body.length).toBe(0);
  });

  it('streams a blob whole and by Range, with its digest', async () => {
    const layer = img.platforms[0]!.layers[1]!;
    const bytes = img.blobs.get(layer)!;
    const whole = await get(`/v2/ghcr.io/siderolabs/installer/blobs/${layer}`);
    expect(whole.status).toBe(200);
    expect(whole.headers['docker-content-digest']).toBe(layer);
    expect(whole.headers['content-length']).toBe(String(bytes.length));
    expect(whole.body.equals(bytes)).toBe(true);
    const part = await get(`/v2/ghcr.io/siderolabs/installer/blobs/${layer}`, { headers: { range: 'bytes=1000-' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-${bytes.length - 1}/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(1000))).toBe(true);
    const head = await get(`/v2/ghcr.io/siderolabs/installer/blobs/${layer}`, { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(bytes.length));
    expect(head.body.length).toBe(0);
    const past = await get(`/v2/ghcr.io/siderolabs/installer/blobs/${layer}`, { headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
  });

  it.each([
    ['/v2/ghcr.io/siderolabs/installer/manifests/v9.9.9', 404, 'MANIFEST_UNKNOWN'],
    ['/v2/ghcr.io/nobody/nothing/manifests/v1', 404, 'NAME_UNKNOWN'],
    [`/v2/ghcr.io/siderolabs/installer/blobs/sha256:${'0'.repeat(64)}`, 404, 'BLOB_UNKNOWN'],
    ['/v2/ghcr.io/siderolabs/installer/blobs/sha256:..%2f..%2frepositories.json', 404, 'UNSUPPORTED'],
    ['/v2/ghcr.io/siderolabs/installer/blobs/sha256:..', 400, 'DIGEST_INVALID'],
    ['/v2/ghcr.io/siderolabs/installer/blobs/md5:abc', 400, 'DIGEST_INVALID'],
    ['/v2/..%2f..%2fetc/manifests/v1', 400, 'NAME_INVALID'],
    ['/v2/Upper/Case/manifests/v1', 400, 'NAME_INVALID'],
    ['/v2/ghcr.io/siderolabs/installer/manifests/-bad', 400, 'MANIFEST_INVALID'],
    ['/v2/_catalog', 404, 'UNSUPPORTED'],
  ])('answers %s with %i %s in the spec\'s error JSON', async (path, status, code) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body.toString()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]!.code).toBe(code);
    expect(body.errors[0]!.message).toBeTypeOf('string');
  });

  it('serves a blob only under a name whose images use it', async () => {
    const busyboxLayer = dockerImg.platforms[0]!.layers[0]!;
    expect((await get(`/v2/ghcr.io/siderolabs/installer/blobs/${busyboxLayer}`)).status).toBe(404);
    expect((await get(`/v2/docker.io/library/busybox/blobs/${busyboxLayer}`)).status).toBe(200);
  });

  it('never serves a file of the data dir that is not a catalogued blob', async () => {
    const stray = `sha256:${'a'.repeat(64)}`;
    writeFileSync(join(new ImageStore(a.settings.dataDir).blobsDir, 'a'.repeat(64)), 'stray');
    expect((await get(`/v2/ghcr.io/siderolabs/installer/blobs/${stray}`)).status).toBe(404);
  });

  it('lists a repository\'s tags', async () => {
    const res = await get('/v2/ghcr.io/siderolabs/installer/tags/list');
    expect(JSON.parse(res.body.toString())).toEqual({ name: 'ghcr.io/siderolabs/installer', tags: ['v1.11.5'] });
  });

  it.each(['PUT', 'POST', 'DELETE'] as const)('refuses %s: a read-only mirror', async (method) => {
    const res = await get(`/v2/ghcr.io/siderolabs/installer/manifests/v1.11.5`, { method });
    expect(res.status).toBe(405);
    expect(JSON.parse(res.body.toString()).errors[0].code).toBe('UNSUPPORTED');
    expect((await get('/v2/ghcr.io/siderolabs/installer/manifests/v1.11.5')).status).toBe(200);
  });

  it('sees an import made while it serves (the CLI writes the catalogue, the daemon reads it)', async () => {
    const later = await buildImage('registry.k8s.io/pause:3.10', 'pause');
    writeLayout(join(a.dir, 'later'), [later]);
    tarLayout(join(a.dir, 'later'), join(a.dir, 'later.tar'));
    expect((await get('/v2/registry.k8s.io/pause/manifests/3.10')).status).toBe(404);
    await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'later.tar'));
    const res = await get('/v2/pause/manifests/3.10?ns=registry.k8s.io');
    expect(res.status).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(later.digest);
  });
});
