// A data disk survives a reimage with the default wipe policy, proven on
// disk image files: markers are written with qemu-io, the fake node wipes
// the image files of the disks in the Reset it takes (as upstream decides
// which: src/lab/fake-talos/disk-images.ts), and the markers are read back
// with qemu-io. The system disk's marker is gone, so the wipe is real.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { makeRack, pxeBooted, type Rack } from './cluster-fixture.js';
import { THREE_DISKS } from './hardware-fixture.js';

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

async function pass(r: Rack) {
  const orch = r.orchestrator();
  try {
    return await orch.pass();
  } finally {
    await orch.close();
  }
}

/** w1 on the three-disk machine with an image file behind every disk, installed on NVMe, markers written, then marked for reimage. */
async function installedWithMarkers(wipe?: object): Promise<{ rack: Rack; images: Record<string, string> }> {
  const r = await makeRack(['worker']);
  const images = Object.fromEntries(THREE_DISKS.map((d) => [`/dev/${d.device_name}`, join(r.dir, `${d.device_name}.img`)]));
  for (const file of Object.values(images)) {
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', file, '4M']);
    qemuIo(file, 'write -P 0x5a 0 64k');
  }
  const fake = r.fakes.get('w1')!;
  fake.opts.disks = THREE_DISKS;
  fake.opts.diskImages = images;
  r.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.installDisk','/dev/nvme0n1') WHERE name='w1'").run();
  if (wipe) r.store.db.prepare("UPDATE nodes SET spec_json=json_set(spec_json,'$.wipe',json(?)) WHERE name='w1'").run(JSON.stringify(wipe));
  pxeBooted(r, 'w1');
  for (let i = 0; i < 60 && r.store.getNode('w1')!.state !== 'installed'; i++) {
    await pass(r);
    await new Promise((res) => setTimeout(res, 20));
  }
  expect(r.store.getNode('w1')!.state).toBe('installed');
  for (const file of Object.values(images)) expect(hasMarker(file)).toBe(true);
  r.store.setState('w1', 'reimage-pending', 'operator asked (test)');
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
