// A data disk survives a reimage with the default wipe policy, proven on
// disk image files: markers are written with qemu-io, the fake node wipes
// the image files of the disks in the Reset it takes (as upstream decides
// which: src/lab/fake-talos/disk-images.ts), and the markers are read back
// with qemu-io. The system disk's marker is gone, so the wipe is real.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Rack } from './cluster-fixture.js';
import { installedOnNvmeThenMarked, THREE_DISKS } from './hardware-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const qemuIo = (file: string, cmd: string) => execFileSync('qemu-io', ['-f', 'raw', '-c', cmd, file], { encoding: 'utf8' });
/** True when the first 64 KiB hold the marker pattern: qemu-io's `read -P` exits 1 and says so on a mismatch. */
function hasMarker(file: string): boolean {
  const r = spawnSync('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 64k', file], { encoding: 'utf8' });
  if (r.status === 0 && /read 65536\/65536 bytes/.test(r.stdout)) return true;
  if (/Pattern verification failed/.test(r.stdout + r.stderr)) return false;
  throw new Error(`qemu-io read of ${file} failed: ${r.stdout}${r.stderr}`);
}

const pass = (r: Rack) => r.onePass();

/** w1 on the three-disk machine with an image file behind every disk, installed on NVMe, markers written, then marked for reimage. */
async function installedWithMarkers(wipe?: object): Promise<{ rack: Rack; images: Record<string, string> }> {
  const images = Object.fromEntries(THREE_DISKS.map((d) => [`/dev/${d.device_name}`, '']));
  const r = await installedOnNvmeThenMarked(wipe, (rack) => {
    for (const dev of Object.keys(images)) {
      const file = join(rack.dir, `${dev.slice('/dev/'.length)}.img`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'raw', file, '4M']);
      qemuIo(file, 'write -P 0x5a 0 64k');
      images[dev] = file;
    }
    rack.fakes.get('w1')!.opts.diskImages = images;
  });
  // The install wrote no image file: every marker is still there before the reimage.
  for (const file of Object.values(images)) expect(hasMarker(file)).toBe(true);
  return { rack: r, images };
}

it('default wipe policy: the data disks keep their markers, the system disk loses its', async () => {
  const { rack: r, images } = await installedWithMarkers();
  rack = r;
  await pass(r);
  const [req] = r.fakes.get('w1')!.resets as { mode: string; user_disks_to_wipe: string[] }[];
  expect(req).toMatchObject({ mode: 'SYSTEM_DISK', user_disks_to_wipe: [] });
  expect(hasMarker(images['/dev/nvme0n1']!)).toBe(false);
  expect(hasMarker(images['/dev/vda']!)).toBe(true);
  expect(hasMarker(images['/dev/sda']!)).toBe(true);
});

it('a data disk listed under wipe.userDisks loses its marker; the unlisted one keeps it', async () => {
  const { rack: r, images } = await installedWithMarkers({ userDisks: [{ serial: 'DATA-A' }] });
  rack = r;
  await pass(r);
  expect(r.fakes.get('w1')!.resets).toHaveLength(1);
  expect(hasMarker(images['/dev/vda']!)).toBe(false);
  expect(hasMarker(images['/dev/sda']!)).toBe(true);
  expect(hasMarker(images['/dev/nvme0n1']!)).toBe(false);
});
