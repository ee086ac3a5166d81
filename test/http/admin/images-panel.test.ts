import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ADMIN_HEADERS, testAppliance, type TestAppliance } from '../../helpers/appliance.js';
import { buildImage, tarLayout, writeLayout } from '../../helpers/oci-image.js';
import { ImageStore } from '../../../src/registry/image-store.js';
import { importArchive } from '../../../src/registry/oci-archive.js';

let a: TestAppliance;
beforeEach(async () => {
  a = await testAppliance();
  const pause = await buildImage('registry.k8s.io/pause:3.10', 'pause');
  writeLayout(join(a.dir, 'layout'), [pause]);
  tarLayout(join(a.dir, 'layout'), join(a.dir, 'in.tar'));
  await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'in.tar'));
});
afterEach(async () => a.close());

describe('the asset panel shows the cluster\'s images', () => {
  it('/api/assets lists every needed image, present or not', async () => {
    const body = (await a.admin.inject({ url: '/api/assets', headers: ADMIN_HEADERS })).json() as { images: { ref: string; present: boolean }[] };
    expect(body.images).toContainEqual({ ref: 'registry.k8s.io/pause:3.10', present: true });
    expect(body.images).toContainEqual({ ref: 'registry.k8s.io/kube-apiserver:v1.34.1', present: false });
    expect(body.images[0]!.ref).toMatch(/^factory\.talos\.dev\/metal-installer\/[0-9a-f]{64}:v1\.11\.5$/);
  });

  it('the page renders them in the boot assets card', async () => {
    const page = (await a.admin.inject({ url: '/ui', headers: ADMIN_HEADERS })).body;
    expect(page).toMatch(/<code class="wrap">registry\.k8s\.io\/pause:3\.10<\/code><\/td><td class="ok">present</);
    expect(page).toMatch(/<code class="wrap">ghcr\.io\/siderolabs\/kubelet:v1\.34\.1<\/code><\/td><td class="muted">missing</);
  });
});
