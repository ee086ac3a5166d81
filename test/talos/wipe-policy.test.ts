// Reimage wipes the system disk, plus exactly the data disks the inventory
// lists under wipe.userDisks: an unlisted data disk is never in the Reset
// request, a listed one is, and a selector that does not pick one disk
// holds the reset instead of guessing.
import { afterEach, expect, it } from 'vitest';
import type { Rack } from './cluster-fixture.js';
import { installedOnNvmeThenMarked } from './hardware-fixture.js';

let rack: Rack | undefined;
afterEach(async () => {
  await rack?.close();
  rack = undefined;
});

const pass = (r: Rack) => r.onePass();
const installedThenMarked = (wipe?: object) => installedOnNvmeThenMarked(wipe);

it('without a wipe policy: the system disk only, no data disk in the request', async () => {
  rack = await installedThenMarked();
  await pass(rack);
  const [req] = rack.fakes.get('w1')!.resets as { mode: string; user_disks_to_wipe: string[] }[];
  expect(req).toMatchObject({ mode: 'SYSTEM_DISK', user_disks_to_wipe: [] });
  expect(rack.store.getNode('w1')!.state).toBe('wiping');
});

it('a listed data disk is in the request, the unlisted one is not', async () => {
  rack = await installedThenMarked({ userDisks: [{ serial: 'DATA-A' }] });
  await pass(rack);
  const resets = rack.fakes.get('w1')!.resets as { mode: string; user_disks_to_wipe: string[] }[];
  expect(resets).toHaveLength(1);
  expect(resets[0]).toMatchObject({ mode: 'ALL', user_disks_to_wipe: ['/dev/vda'] });
  expect(resets[0]!.user_disks_to_wipe).not.toContain('/dev/sda');
  const events = rack.store.events({ node: 'w1' }).map((e) => e.message);
  expect(events.some((m) => m.includes('wiping STATE, EPHEMERAL and data disks /dev/vda; reboot'))).toBe(true);
  expect(rack.store.getNode('w1')!.state).toBe('wiping');
});

it('an ambiguous selector holds the reset, names the candidates once, and wipes nothing', async () => {
  rack = await installedThenMarked({ userDisks: [{ rotational: true }] });
  const orch = rack.orchestrator();
  try {
    await orch.pass();
    await orch.pass();
  } finally {
    await orch.close();
  }
  expect(rack.fakes.get('w1')!.resets).toHaveLength(0);
  expect(rack.store.getNode('w1')!.state).toBe('reimage-pending');
  const held = rack.store.events({ node: 'w1' }).map((e) => e.message).filter((m) => m.startsWith('reset of w1 held: '));
  expect(held).toEqual(['reset of w1 held: wipe.userDisks selector {rotational: true} matches 2 disks: '
    + '/dev/sda (1.0 TB, model SLOWDISK, serial DATA-B, scsi, rotational); /dev/vda (2.0 TB, serial DATA-A, virtio, rotational); add serial or wwid to pick one']);
});

it('a selector that lands on the install disk holds the reset', async () => {
  rack = await installedThenMarked({ userDisks: [{ transport: 'nvme' }] });
  await pass(rack);
  expect(rack.fakes.get('w1')!.resets).toHaveLength(0);
  expect(rack.store.events({ node: 'w1' }).some((m) => m.message === 'reset of w1 held: wipe.userDisks: {transport: "nvme"} is /dev/nvme0n1, the install disk')).toBe(true);
});
