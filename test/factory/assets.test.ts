import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archesIn, fetchAssets, importAssets, registerSchematic } from '../../src/factory/assets.js';
import { schematicYaml } from '../../src/factory/schematic.js';
import { progressBar, progressReporter } from '../../src/factory/progress.js';
import { listAssets } from '../../src/store/assets.js';
import { Store } from '../../src/store/store.js';
import { startFakeFactory, type FakeFactory } from './fake-factory.js';
import { bzImage, cpioInitramfs, efiStub } from '../helpers/boot-images.js';

const ucode = { extensions: ['siderolabs/intel-ucode'], extraKernelArgs: [] };
const ID = '2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('boot-asset cache', () => {
  let dir: string;
  let store: Store;
  let factory: FakeFactory;
  const kernel = bzImage(1024 * 1024 + 3);
  const initramfs = cpioInitramfs(2 * 1024 * 1024 + 5);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-assets-'));
    store = new Store(':memory:');
    factory = await startFakeFactory({ [`/image/${ID}/v1.11.5/kernel-amd64`]: kernel, [`/image/${ID}/v1.11.5/initramfs-amd64.xz`]: initramfs });
  });
  afterEach(async () => {
    store.close();
    await factory.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fetch = (extra: Partial<Parameters<typeof fetchAssets>[0]> = {}) =>
    fetchAssets({ factoryUrl: factory.url, assetsDir: join(dir, 'assets'), db: store.db, schematic: ucode, version: 'v1.11.5', arch: 'amd64', ...extra });

  it('fetch: registers the schematic, lays files out as assets/<schematic>/<version>/, records size and sha256', async () => {
    const got = await fetch({ register: true });
    expect(factory.registered).toEqual([schematicYaml(ucode)]);
    expect(got.map((a) => [a.name, a.size, a.sha256, a.fetched])).toEqual([['kernel-amd64', kernel.length, sha(kernel), true], ['initramfs-amd64.xz', initramfs.length, sha(initramfs), true]]);
    expect(readFileSync(join(dir, 'assets', ID, 'v1.11.5', 'kernel-amd64')).equals(kernel)).toBe(true);
    expect(readFileSync(join(dir, 'assets', ID, 'v1.11.5', 'initramfs-amd64.xz')).equals(initramfs)).toBe(true);
    expect(listAssets(store.db).map((a) => [a.name, a.size, a.sha256, a.source])).toEqual([
      ['initramfs-amd64.xz', initramfs.length, sha(initramfs), `${factory.url}/image/${ID}/v1.11.5/initramfs-amd64.xz`],
      ['kernel-amd64', kernel.length, sha(kernel), `${factory.url}/image/${ID}/v1.11.5/kernel-amd64`],
    ]);
  });

  it('fetch again: intact cached files are not downloaded; a damaged one is', async () => {
    await fetch();
    const before = factory.requests.length;
    expect((await fetch()).every((a) => !a.fetched)).toBe(true);
    expect(factory.requests.length).toBe(before);
    writeFileSync(join(dir, 'assets', ID, 'v1.11.5', 'kernel-amd64'), randomBytes(kernel.length)); // same size, other bytes
    const again = await fetch();
    expect(again.map((a) => a.fetched)).toEqual([true, false]);
    expect(readFileSync(join(dir, 'assets', ID, 'v1.11.5', 'kernel-amd64')).equals(kernel)).toBe(true);
  });

  it('register refuses a factory whose ID differs from ours, and nothing is downloaded', async () => {
    await expect(registerSchematic(factory.url, ucode)).resolves.toBe(ID);
    factory.wrongId = true;
    const n = factory.requests.length;
    await expect(fetch({ register: true })).rejects.toThrow(`but rackboot computed ${ID}; refusing to cache under either`);
    expect(factory.requests.slice(n).map((q) => q.method)).toEqual(['POST']);
  });

  describe('import (air-gapped)', () => {
    const src = () => join(dir, 'usb');
    beforeEach(() => {
      mkdirSync(src());
      writeFileSync(join(src(), 'kernel-amd64'), kernel);
      writeFileSync(join(src(), 'initramfs-amd64.xz'), initramfs);
    });
    const imp = () => importAssets({ dir: src(), assetsDir: join(dir, 'assets'), db: store.db, schematic: ID, version: 'v1.11.5' });

    it('copies both files into the layout and records them', async () => {
      const got = await imp();
      expect(got.map((a) => a.name)).toEqual(['kernel-amd64', 'initramfs-amd64.xz']);
      expect(readFileSync(join(dir, 'assets', ID, 'v1.11.5', 'initramfs-amd64.xz')).equals(initramfs)).toBe(true);
      expect(listAssets(store.db).map((a) => [a.name, a.sha256, a.source])).toEqual([
        ['initramfs-amd64.xz', sha(initramfs), `import:${src()}`],
        ['kernel-amd64', sha(kernel), `import:${src()}`],
      ]);
    });

    it('checks a sha256sum listing when there is one', async () => {
      writeFileSync(join(src(), 'sha256sum.txt'), `${sha(kernel)}  kernel-amd64\n${'0'.repeat(64)}  initramfs-amd64.xz\n`);
      await expect(imp()).rejects.toThrow(/initramfs-amd64.xz: sha256 [0-9a-f]{64} does not match the listing/);
      writeFileSync(join(src(), 'sha256sum.txt'), `${sha(kernel)}  kernel-amd64\n${sha(initramfs)} *initramfs-amd64.xz\n`);
      await expect(imp()).resolves.toHaveLength(2);
    });

    it('refuses a kernel that is not a kernel and an initramfs that is not a compressed cpio, copying nothing', async () => {
      writeFileSync(join(src(), 'kernel-amd64'), randomBytes(4096));
      writeFileSync(join(src(), 'initramfs-amd64.xz'), randomBytes(4096));
      await expect(imp()).rejects.toThrow(/kernel-amd64 is not a Linux kernel: no bzImage header .*; .*initramfs-amd64.xz is not a compressed initramfs: no xz, zstd or gzip header/);
      // An xz stream cut short, and gzip around something that is not cpio.
      writeFileSync(join(src(), 'kernel-amd64'), kernel);
      writeFileSync(join(src(), 'initramfs-amd64.xz'), initramfs.subarray(0, 64));
      await expect(imp()).rejects.toThrow(/initramfs-amd64.xz is xz-compressed but does not decompress: xz cannot read it/);
      writeFileSync(join(src(), 'initramfs-amd64.xz'), gzipSync(randomBytes(1000)));
      await expect(imp()).rejects.toThrow(/initramfs-amd64.xz decompresses \(gzip\) to something other than a cpio archive/);
      expect(listAssets(store.db)).toEqual([]);
      expect(existsSync(join(dir, 'assets'))).toBe(false);
    });

    it('takes an EFI-stub kernel and a zstd or gzip initramfs', async () => {
      writeFileSync(join(src(), 'kernel-amd64'), efiStub(8192));
      writeFileSync(join(src(), 'initramfs-amd64.xz'), cpioInitramfs(1000, ['zstd', '-c', '-q']));
      await expect(imp()).resolves.toHaveLength(2);
      writeFileSync(join(src(), 'initramfs-amd64.xz'), cpioInitramfs(1000, ['gzip', '-c']));
      await expect(imp()).resolves.toHaveLength(2);
    });

    it('refuses an incomplete arch or an empty directory', async () => {
      rmSync(join(src(), 'initramfs-amd64.xz'));
      await expect(imp()).rejects.toThrow(/amd64 is incomplete, missing initramfs-amd64.xz/);
      rmSync(join(src(), 'kernel-amd64'));
      await expect(imp()).rejects.toThrow(/has none of kernel-amd64/);
    });
  });
});

describe('progress', () => {
  it('draws a bar on a TTY, at most ten times a second, and finishes the line', () => {
    const out: string[] = [];
    let t = 0;
    const r = progressReporter({ isTTY: true, write: (s) => out.push(s) }, 'kernel-amd64', () => t);
    r.update({ received: 0, total: 100 * 1024 * 1024, resumedFrom: 0 });
    t = 50; r.update({ received: 10 * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 0 }); // throttled
    t = 200; r.update({ received: 50 * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 0 });
    r.done();
    expect(out).toEqual([
      '\rkernel-amd64 [------------------------------]   0% 0.0/100.0 MiB',
      '\rkernel-amd64 [###############---------------]  50% 50.0/100.0 MiB',
      '\rkernel-amd64 [###############---------------]  50% 50.0/100.0 MiB\n',
    ]);
  });

  it('writes plain lines every 10% otherwise, and says when it resumed', () => {
    const out: string[] = [];
    const r = progressReporter({ isTTY: false, write: (s) => out.push(s) }, 'initramfs-amd64.xz');
    for (let i = 40; i <= 100; i += 5) r.update({ received: i * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 40 * 1024 * 1024 });
    r.done();
    expect(out).toEqual([
      'initramfs-amd64.xz: resuming at 40.0 MiB',
      'initramfs-amd64.xz: 40% (40.0/100.0 MiB)', 'initramfs-amd64.xz: 50% (50.0/100.0 MiB)', 'initramfs-amd64.xz: 60% (60.0/100.0 MiB)',
      'initramfs-amd64.xz: 70% (70.0/100.0 MiB)', 'initramfs-amd64.xz: 80% (80.0/100.0 MiB)', 'initramfs-amd64.xz: 90% (90.0/100.0 MiB)',
      'initramfs-amd64.xz: 100% (100.0/100.0 MiB)',
    ]);
    expect(progressBar('x', { received: 5, total: undefined, resumedFrom: 0 })).toBe('x 0.0 MiB');
  });
});

// branch arm64: an arm64 node that boots its UKI (no arm64 iPXE) needs no arm64 kernel and initramfs.
describe('archesIn: the arches whose kernel and initramfs the cache needs', () => {
  it('amd64 always; arm64 for an arm64 iPXE node, not for an arm64 httpBoot: uki node', () => {
    expect(archesIn([{}])).toEqual(['amd64']);
    expect(archesIn([{}, { arch: 'arm64' }])).toEqual(['amd64', 'arm64']);
    expect(archesIn([{ arch: 'arm64', httpBoot: 'ipxe' }])).toEqual(['amd64', 'arm64']);
    expect(archesIn([{}, { arch: 'arm64', httpBoot: 'uki' }])).toEqual(['amd64']);
  });
});
