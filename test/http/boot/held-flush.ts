// A boot-plane request whose reply rests on a store commit, sent while the
// disk holds its flushes (HeldDisk): whether the route answered another
// request meanwhile, and when its own reply came. Code that flushed on the
// event loop answers nothing until the timed release (releaseLater) begins.
import { expect } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { HeldDisk } from '../../helpers/held-disk.js';
import { testAppliance, type TestAppliance } from '../../helpers/appliance.js';

export interface HeldFlushRun {
  /** The other request was answered before the timed release began. */
  otherAnsweredWhileHeld: boolean;
  /** What had been answered when the test released the disk, then at the end ('reply' is the request's). */
  beforeRelease: string[];
  after: string[];
  res: LightMyRequestResponse;
}

/** `committed`: true once the request's commit is visible (it is polled before the other request is sent). */
export async function requestWhileFlushHeld(request: InjectOptions, committed: (b: TestAppliance) => boolean, setup: (b: TestAppliance) => void = () => {}): Promise<HeldFlushRun> {
  const disk = HeldDisk.create();
  const b = await testAppliance({ parent: disk.dir });
  const thaw = disk.releaseLater(20);
  try {
    setup(b);
    const order: string[] = [];
    disk.hold();
    const reply = b.app.inject(request).then((r) => (order.push('reply'), r));
    await expect.poll(() => committed(b), { timeout: 30_000 }).toBe(true);
    await b.app.inject({ method: 'GET', url: '/boot.ipxe', remoteAddress: '10.77.0.12' });
    order.push('other');
    const otherAnsweredWhileHeld = !thaw.releasing();
    const beforeRelease = [...order];
    disk.release();
    const res = await reply;
    return { otherAnsweredWhileHeld, beforeRelease, after: order, res };
  } finally {
    disk.release();
    thaw.kill();
    await b.close();
    disk.destroy();
  }
}
