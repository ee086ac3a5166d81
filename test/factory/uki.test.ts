// The Factory's UKI in the asset cache: fetched by the name upstream gives it,
// imported only when it is a PE/EFI image with a kernel section.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchAssets, importAssets } from '../../src/factory/assets.js';
import { ukiAssetName, ukiInCache, ukiProblem, ukisIn, ukiUrl } from '../../src/factory/uki.js';
import { buildUki, EFI_STUB } from '../../src/lab/uki.js';
import { Store } from '../../src/store/store.js';
import { startFakeFactory, type FakeFactory } from './fake-factory.js';
import { bzImage, cpioInitramfs, efiStub } from '../helpers/boot-images.js';

const ID = '2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8';
const ucode = { extensions: ['siderolabs/intel-ucode'], extraKernelArgs: [] };
const noStub = !existsSync(EFI_STUB);

describe('UKI names and checks', () => {
  let work: string;
  let uki: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rb-uki-'));
    writeFileSync(join(work, 'kernel'), bzImage(64 * 1024));
    writeFileSync(join(work, 'initrd'), cpioInitramfs(1000));
    if (!noStub) uki = buildUki({ kernel: join(work, 'kernel'), initrd: join(work, 'initrd'), cmdline: 'console=ttyS0', out: join(work, 'uki.efi') });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('names the UKI as upstream platforms.go does, per arch and Secure Boot', () => {
    expect(ukiAssetName('amd64', true)).toBe('metal-amd64-secureboot-uki.efi');
    expect(ukiAssetName('arm64', false)).toBe('metal-arm64-uki.efi');
    expect(ukisIn([{ httpBoot: 'uki', secureBoot: true }, { httpBoot: 'uki' }, { arch: 'arm64' }, { httpBoot: 'uki', secureBoot: true }]))
      .toEqual([{ arch: 'amd64', name: 'metal-amd64-secureboot-uki.efi' }, { arch: 'amd64', name: 'metal-amd64-uki.efi' }]);
    expect(ukiUrl('http://10.77.0.1:8080', '52:54:00:12:34:11')).toBe('http://10.77.0.1:8080/uki/52-54-00-12-34-11.efi');
  });

  it.skipIf(noStub)('takes a UKI built from systemd\'s stub; refuses a bare EFI binary, a kernel and random bytes', () => {
    expect(ukiProblem(uki)).toBeUndefined();
    expect(ukiProblem(EFI_STUB)).toMatch(/not a UKI \(no \.linux section/);
    writeFileSync(join(work, 'stub-kernel'), efiStub(8192));
    expect(ukiProblem(join(work, 'stub-kernel'))).toMatch(/not a UKI|not a PE/);
    expect(ukiProblem(join(work, 'initrd'))).toMatch(/no "MZ" header/);
  });

  it('finds the node\'s UKI in the cache, or says which file is missing', () => {
    const assets = join(work, 'assets');
    const inv = { cluster: { schematic: ucode, talosVersion: 'v1.11.5' } };
    expect(ukiInCache(assets, undefined, {})).toEqual({ why: 'no valid inventory loaded yet' });
    expect(ukiInCache(assets, inv, { secureBoot: true })).toMatchObject({ why: expect.stringMatching(/metal-amd64-secureboot-uki\.efi for Talos v1\.11\.5 \(schematic 2d61dd07.*\) is not cached/) });
    mkdirSync(join(assets, ID, 'v1.11.5'), { recursive: true });
    writeFileSync(join(assets, ID, 'v1.11.5', 'metal-amd64-secureboot-uki.efi'), 'x');
    expect(ukiInCache(assets, inv, { secureBoot: true })).toMatchObject({ path: join(assets, ID, 'v1.11.5', 'metal-amd64-secureboot-uki.efi'), schematic: ID });
  });
});

describe('UKI fetch and import', () => {
  let dir: string;
  let store: Store;
  let factory: FakeFactory;
  const kernel = bzImage(256 * 1024);
  const initramfs = cpioInitramfs(4096);
  let ukiBytes: Buffer;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-uki-assets-'));
    store = new Store(':memory:');
    writeFileSync(join(dir, 'k'), kernel);
    writeFileSync(join(dir, 'i'), initramfs);
    ukiBytes = noStub ? efiStub(4096) : readFileSync(buildUki({ kernel: join(dir, 'k'), initrd: join(dir, 'i'), cmdline: 'console=ttyS0', out: join(dir, 'u.efi') }));
    factory = await startFakeFactory({
      [`/image/${ID}/v1.11.5/kernel-amd64`]: kernel, [`/image/${ID}/v1.11.5/initramfs-amd64.xz`]: initramfs,
      [`/image/${ID}/v1.11.5/metal-amd64-secureboot-uki.efi`]: ukiBytes,
    });
  });
  afterEach(async () => {
    store.close();
    await factory.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetch downloads the Secure Boot UKI from /image/<schematic>/<version>/ beside the kernel and initramfs', async () => {
    const got = await fetchAssets({ factoryUrl: factory.url, assetsDir: join(dir, 'assets'), db: store.db, schematic: ucode, version: 'v1.11.5', arch: 'amd64', ukis: ['metal-amd64-secureboot-uki.efi'] });
    expect(got.map((a) => a.name)).toEqual(['kernel-amd64', 'initramfs-amd64.xz', 'metal-amd64-secureboot-uki.efi']);
    expect(readFileSync(join(dir, 'assets', ID, 'v1.11.5', 'metal-amd64-secureboot-uki.efi')).equals(ukiBytes)).toBe(true);
    expect(factory.requests.map((r) => r.path)).toContain(`/image/${ID}/v1.11.5/metal-amd64-secureboot-uki.efi`);
  });

  it.skipIf(noStub)('import takes a UKI along, and refuses one that is not a UKI, copying nothing', async () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'kernel-amd64'), kernel);
    writeFileSync(join(src, 'initramfs-amd64.xz'), initramfs);
    writeFileSync(join(src, 'metal-amd64-secureboot-uki.efi'), efiStub(8192));
    const imp = () => importAssets({ dir: src, assetsDir: join(dir, 'assets'), db: store.db, schematic: ID, version: 'v1.11.5' });
    await expect(imp()).rejects.toThrow(/metal-amd64-secureboot-uki\.efi is .*not a UKI|metal-amd64-secureboot-uki\.efi is not a PE/);
    expect(existsSync(join(dir, 'assets'))).toBe(false);
    writeFileSync(join(src, 'metal-amd64-secureboot-uki.efi'), ukiBytes);
    expect((await imp()).map((a) => a.name)).toEqual(['kernel-amd64', 'initramfs-amd64.xz', 'metal-amd64-secureboot-uki.efi']);
    // A directory with only a UKI is enough.
    rmSync(join(src, 'kernel-amd64'));
    rmSync(join(src, 'initramfs-amd64.xz'));
    expect((await imp()).map((a) => a.name)).toEqual(['metal-amd64-secureboot-uki.efi']);
  });
});
