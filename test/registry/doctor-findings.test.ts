import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageCacheFindings } from '../../src/registry/doctor-findings.js';
import { ImageStore } from '../../src/registry/image-store.js';
import { importArchive } from '../../src/registry/oci-archive.js';
import { buildImage, tarLayout, writeLayout } from '../helpers/oci-image.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('imageCacheFindings', () => {
  it('reports the cache size and free space, and with the mirror on, the needed images it lacks', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-imgdoc-'));
    const pause = await buildImage('registry.k8s.io/pause:3.10', 'pause');
    writeLayout(join(dir, 'layout'), [pause]);
    tarLayout(join(dir, 'layout'), join(dir, 'in.tar'));
    const data = join(dir, 'data');
    await importArchive(new ImageStore(data), join(dir, 'in.tar'));
    const bytes = [...pause.blobs.values()].reduce((a, b) => a + b.length, 0);
    expect(new ImageStore(data).size()).toBe(bytes);

    const off = imageCacheFindings(data, false, ['registry.k8s.io/pause:3.10', 'registry.k8s.io/etcd:v3.6.7']);
    expect(off).toHaveLength(1);
    expect(off[0]!.check).toBe('image cache');
    expect(off[0]!.detail).toMatch(new RegExp(`^1 images, ${(bytes / 1024 ** 3).toFixed(2)} GiB in .*/registry; \\d+\\.\\d\\d GiB free$`));

    const on = imageCacheFindings(data, true, ['registry.k8s.io/pause:3.10', 'registry.k8s.io/etcd:v3.6.7']);
    expect(on[1]).toMatchObject({ level: 'fail', check: 'mirrored images', detail: expect.stringContaining('1 needed images are not cached: registry.k8s.io/etcd:v3.6.7') });
    expect(imageCacheFindings(data, true, ['registry.k8s.io/pause:3.10'])[1]).toMatchObject({ level: 'ok' });
  });
});
