import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imagesExport, imagesFetch, imagesImport, imagesList, imagesPrune } from '../../src/cli/images.js';
import { testAppliance } from '../helpers/appliance.js';
import { importArchive } from '../../src/registry/oci-archive.js';
import { main } from '../../src/cli.js';
import { ImageStore } from '../../src/registry/image-store.js';
import { buildImage, tarLayout, writeLayout } from '../helpers/oci-image.js';
import { runCommand, scratchSite } from './run-command.js';

const sites: ReturnType<typeof scratchSite>[] = [];
const site = () => {
  const s = scratchSite();
  sites.push(s);
  return s;
};
afterEach(() => {
  for (const s of sites.splice(0)) rmSync(s.dir, { recursive: true, force: true });
});

describe('rackboot images', () => {
  it('import, export from one appliance, import into a second: the same images and digests; list shows them present', async () => {
    const one = site();
    const pause = await buildImage('registry.k8s.io/pause:3.10', 'pause');
    const etcd = await buildImage('gcr.io/etcd-development/etcd:v3.6.5', 'etcd');
    writeLayout(join(one.dir, 'layout'), [pause, etcd]);
    tarLayout(join(one.dir, 'layout'), join(one.dir, 'in.tar'));
    const imported = await runCommand(imagesImport, ['--config', one.config, join(one.dir, 'in.tar')]);
    expect(imported.code).toBe(0);
    expect(imported.out).toContain(`imported  registry.k8s.io/pause:3.10  ${pause.digest}  11 blobs`);
    expect(imported.err).toContain('import: 100%');

    const exported = await runCommand(imagesExport, ['--config', one.config, join(one.dir, 'out.tar')]);
    expect(exported.code).toBe(0);
    expect(exported.out).toMatch(/^exported 2 images, 22 blobs, \d+ bytes to /);

    const two = site();
    expect((await runCommand(imagesImport, ['--config', two.config, join(one.dir, 'out.tar')])).code).toBe(0);
    expect(new ImageStore(two.dataDir).images()).toEqual(new ImageStore(one.dataDir).images());

    const list = await runCommand(imagesList, ['--config', two.config]);
    expect(list.out).toContain('registry.k8s.io/pause:3.10  present');
    expect(list.out).toContain('gcr.io/etcd-development/etcd:v3.6.5  present');
    expect(list.out).toMatch(/^factory\.talos\.dev\/metal-installer\/[0-9a-f]{64}:v1\.11\.5  missing$/m);
    const missing = await runCommand(imagesList, ['--config', two.config, '--missing']);
    expect(missing.out.split('\n')).not.toContain('registry.k8s.io/pause:3.10');
    expect(missing.out.split('\n')).toContain('registry.k8s.io/kube-apiserver:v1.34.1');
  });

  it('a corrupted archive fails with exit 1 and a clear message, and imports nothing', async () => {
    const s = site();
    const img = await buildImage('registry.k8s.io/pause:3.10', 'pause');
    const layer = img.platforms[0]!.layers[0]!;
    writeLayout(join(s.dir, 'layout'), [img]);
    const p = join(s.dir, 'layout', 'blobs', 'sha256', layer.slice(7));
    const b = readFileSync(p);
    b[20] = b[20]! ^ 1;
    writeFileSync(p, b);
    tarLayout(join(s.dir, 'layout'), join(s.dir, 'bad.tar'));
    const err: string[] = [];
    const code = await main(['images', 'import', '--config', s.config, join(s.dir, 'bad.tar')], { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toContain(`rackboot images import: blob ${layer} is corrupted`);
    expect(new ImageStore(s.dataDir).blobDigests()).toEqual([]);
  });

  it('usage errors: no FILE, a reference without a tag', async () => {
    const s = site();
    expect((await runCommand(imagesImport, ['--config', s.config])).code).toBe(2);
    expect((await runCommand(imagesExport, ['--config', s.config, join(s.dir, 'x.tar'), 'ghcr.io/a/b'])).err).toContain('not an image reference with a tag');
  });

  it('fetch --from another appliance pulls the named image; without names, what list --missing prints', async () => {
    const a = await testAppliance();
    try {
      const pause = await buildImage('registry.k8s.io/pause:3.10', 'pause');
      writeLayout(join(a.dir, 'layout'), [pause]);
      tarLayout(join(a.dir, 'layout'), join(a.dir, 'in.tar'));
      await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'in.tar'));
      await a.app.listen({ host: '127.0.0.1', port: 0 });
      const from = `http://127.0.0.1:${(a.app.server.address() as { port: number }).port}`;
      const s = site();
      const r = await runCommand(imagesFetch, ['--config', s.config, '--from', from, 'registry.k8s.io/pause:3.10']);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`fetched  registry.k8s.io/pause:3.10  ${pause.digest}  11 blobs`);
      expect(r.err).toMatch(/registry\.k8s\.io\/pause:3\.10 [0-9a-f]{12}: 100%/);
      // The rest of the cluster's list is not on that appliance: the fetch fails and adds nothing more.
      await expect(runCommand(imagesFetch, ['--config', s.config, '--from', from])).rejects.toThrow(/HTTP 404/);
      expect(new ImageStore(s.dataDir).images().map((i) => i.name)).toEqual(['registry.k8s.io/pause']);
    } finally {
      await a.close();
    }
  }, 60_000);

  it('prune keeps what the inventory needs (and --keep), drops other tags of the same repository and their blobs', async () => {
    const s = site();
    const needed = await buildImage('registry.k8s.io/pause:3.10', 'pause');
    const oldTag = await buildImage('registry.k8s.io/pause:3.9', 'pause-old');
    const other = await buildImage('ghcr.io/old/thing:v0', 'thing');
    const kept = await buildImage('ghcr.io/site/tool:v2', 'tool');
    writeLayout(join(s.dir, 'layout'), [needed, oldTag, other, kept]);
    tarLayout(join(s.dir, 'layout'), join(s.dir, 'in.tar'));
    await runCommand(imagesImport, ['--config', s.config, join(s.dir, 'in.tar')]);
    const r = await runCommand(imagesPrune, ['--config', s.config, '--keep', 'ghcr.io/site/tool:v2']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual(['removed  ghcr.io/old/thing:v0', 'removed  registry.k8s.io/pause:3.9', `pruned 2 images, 22 blobs, ${[...oldTag.blobs.values(), ...other.blobs.values()].reduce((a, b) => a + b.length, 0)} bytes`]);
    const store = new ImageStore(s.dataDir);
    expect(store.images().map((i) => `${i.name}:${i.tag}`)).toEqual(['ghcr.io/site/tool:v2', 'registry.k8s.io/pause:3.10']);
    expect(store.blobDigests().sort()).toEqual([...needed.blobs.keys(), ...kept.blobs.keys()].sort());
    expect(store.catalogue().repositories['registry.k8s.io/pause']!.digests).toEqual([...needed.blobs.keys()].sort());
    expect(store.manifest('registry.k8s.io/pause', oldTag.digest)).toBeUndefined();
  });
});
