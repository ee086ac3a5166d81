import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { moduleLoadOrder } from '../../src/lab/standin.js';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

/** A fake module: only its .modinfo depends= string matters here. */
function ko(root: string, path: string, depends: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(`license=GPL\0depends=${depends}\0vermagic=6.1\0`)]));
}

describe('moduleLoadOrder', () => {
  it('puts dependencies first, each once, as the real virtio_net chain needs', () => {
    dir = mkdtempSync(join(tmpdir(), 'mods-'));
    ko(dir, 'net/core/failover.ko', '');
    ko(dir, 'drivers/net/net_failover.ko', 'failover');
    ko(dir, 'drivers/virtio/virtio_ring.ko', '');
    ko(dir, 'drivers/virtio/virtio.ko', 'virtio_ring');
    ko(dir, 'drivers/net/virtio_net.ko', 'virtio_ring,virtio,net_failover');
    ko(dir, 'drivers/net/ethernet/intel/e1000/e1000.ko', '');
    const order = moduleLoadOrder(dir, ['e1000', 'virtio_net']).map((p) => basename(p));
    expect(order).toEqual(['e1000.ko', 'virtio_ring.ko', 'virtio.ko', 'failover.ko', 'net_failover.ko', 'virtio_net.ko']);
  });

  it('names a missing dependency and a loop instead of building a broken initramfs', () => {
    dir = mkdtempSync(join(tmpdir(), 'mods-'));
    ko(dir, 'a.ko', 'b');
    expect(() => moduleLoadOrder(dir!, ['a'])).toThrow(/module b is not in/);
    ko(dir, 'b.ko', 'a');
    expect(() => moduleLoadOrder(dir!, ['a'])).toThrow(/dependency loop: a → b → a/);
  });
});
