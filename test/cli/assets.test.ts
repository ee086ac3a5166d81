import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assetsFetch, assetsImport } from '../../src/cli/assets.js';
import { buildBootServer } from '../../src/http/server.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { createLogger } from '../../src/log.js';
import { loadSettings } from '../../src/settings/settings.js';
import { Store } from '../../src/store/store.js';
import { loadInventoryFile } from '../../src/inventory/load.js';
import { FakeNeighbours } from '../../src/net/neighbours.js';
import { closedPort, startFakeFactory, type FakeFactory } from '../factory/fake-factory.js';
import { runCommand, scratchSite } from './run-command.js';
import { cpioInitramfs, efiStub } from '../helpers/boot-images.js';

const ID = '2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8';

describe('rackboot assets', () => {
  let site: ReturnType<typeof scratchSite> | undefined;
  let factory: FakeFactory | undefined;
  afterEach(async () => {
    await factory?.close();
    if (site) rmSync(site.dir, { recursive: true, force: true });
    site = undefined;
    factory = undefined;
  });

  it('fetch fills the cache from the factory in settings; the appliance then serves it and boots nodes from it', async () => {
    const kernel = randomBytes(200_000);
    const initramfs = randomBytes(300_000);
    factory = await startFakeFactory({ [`/image/${ID}/v1.11.5/kernel-amd64`]: kernel, [`/image/${ID}/v1.11.5/initramfs-amd64.xz`]: initramfs });
    site = scratchSite(`factory:\n  url: ${factory.url}\n`);
    const r = await runCommand(assetsFetch, ['--config', site.config, '--register']);
    expect(r.err).toContain('kernel-amd64: 100%');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toHaveLength(2);
    expect(r.out).toMatch(new RegExp(`^fetched  kernel-amd64  200000 bytes  sha256 [0-9a-f]{64}  .*/assets/${ID}/v1.11.5/kernel-amd64$`, 'm'));
    expect((await runCommand(assetsFetch, ['--config', site.config])).out).toMatch(/^already cached  kernel-amd64/m);

    const settings = loadSettings({ config: site.config });
    const inv = loadInventoryFile(settings.inventory);
    if (!inv.ok) throw new Error('inventory');
    const store = new Store(':memory:');
    store.syncInventory(inv.inventory);
    const app = buildBootServer({ settings, store, lifecycle: new Lifecycle(store), log: createLogger({ level: 'silent' }), publicUrl: 'http://10.77.0.1:8080', inventory: () => inv.inventory, inventoryStatus: () => ({ ok: true, file: '', errors: [], loadedAt: 0, checkedAt: 0 }), requesterIdentity: new FakeNeighbours({ '10.77.0.11': '52:54:00:12:34:01' }) });
    try {
      const served = await app.inject({ method: 'GET', url: `/assets/${ID}/v1.11.5/initramfs-amd64.xz` });
      expect(served.statusCode).toBe(200);
      expect(served.rawPayload.equals(initramfs)).toBe(true);
      const script = await app.inject({ method: 'GET', url: '/ipxe?mac=52:54:00:12:34:01&arch=x86_64', remoteAddress: '10.77.0.11' });
      expect(script.body).toContain(`kernel http://10.77.0.1:8080/assets/${ID}/v1.11.5/kernel-amd64 initrd=initramfs-amd64.xz talos.platform=metal`);
    } finally {
      await app.close();
      store.close();
    }
  });

  it('fetch with no network fails within seconds with a clear message', async () => {
    const port = await closedPort();
    site = scratchSite(`factory:\n  url: http://127.0.0.1:${port}\n`);
    const t0 = Date.now();
    const r = await runCommand(assetsFetch, ['--config', site.config]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`rackboot assets fetch: cannot reach 127.0.0.1:${port} (ECONNREFUSED)`);
    expect(r.err).toContain('rackboot assets import --dir DIR');
    expect(Date.now() - t0).toBeLessThan(3000);
    // What it tried, so the same files can be fetched elsewhere; and no empty directories left behind.
    expect(r.err).toContain(`schematic ${ID}`);
    expect(r.err).toContain(`http://127.0.0.1:${port}/image/${ID}/v1.11.5/kernel-amd64`);
    expect(r.err).toContain(`http://127.0.0.1:${port}/image/${ID}/v1.11.5/initramfs-amd64.xz`);
    expect(existsSync(join(site.dir, 'assets', ID))).toBe(false);
  });

  it('fetch rejects a bad --arch or --version as usage errors', async () => {
    expect((await runCommand(assetsFetch, ['--arch', 'mips'])).code).toBe(2);
    expect((await runCommand(assetsFetch, ['--version', '1.11'])).code).toBe(2);
  });

  it('import --dir adopts files fetched elsewhere, under the inventory schematic and version', async () => {
    site = scratchSite();
    const usb = join(site.dir, 'usb');
    mkdirSync(usb);
    writeFileSync(join(usb, 'kernel-arm64'), efiStub(1000));
    const initramfs = cpioInitramfs(1000);
    writeFileSync(join(usb, 'initramfs-arm64.xz'), initramfs);
    const r = await runCommand(assetsImport, ['--config', site.config, '--dir', usb]);
    expect(r.code).toBe(0);
    // Not a terminal: the copy's progress as plain lines, as for downloads.
    expect(r.err).toContain('kernel-arm64: 100% (0.0/0.0 MiB)');
    expect(r.err).toContain('initramfs-arm64.xz: 100%');
    expect(r.out).toMatch(new RegExp(`^imported  initramfs-arm64.xz  ${initramfs.length} bytes  sha256 [0-9a-f]{64}  .*/assets/${ID}/v1.11.5/initramfs-arm64.xz$`, 'm'));
    expect((await runCommand(assetsImport, ['--config', site.config])).code).toBe(2);
    const bad = await runCommand(assetsImport, ['--config', site.config, '--dir', site.dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/has none of kernel-amd64/);
  });
});
