import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeApplianceFiles } from '../../src/lab/appliance-files.js';
import { prepareAppliance } from '../../src/lab/prepare.js';
import { bzImage, cpioInitramfs } from '../helpers/boot-images.js';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); dir = undefined; });

describe('prepareAppliance', () => {
  it('creates the secrets and imports the stand-in under the empty schematic and the Talos version', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lab-prepare-'));
    // What assets import takes (it checks both): a bzImage header and an xz-compressed cpio.
    const kernel = bzImage(4096);
    const initramfs = cpioInitramfs(100);
    writeFileSync(join(dir, 'vmlinuz'), kernel);
    writeFileSync(join(dir, 'initrd'), initramfs);
    const paths = writeApplianceFiles({
      dir: join(dir, 'lab'), bridge: 'br0', serverAddress: '10.78.0.1', subnet: '10.78.0.0/24', pool: { start: '10.78.0.100', end: '10.78.0.199' },
      dhcpMode: 'full', httpPort: 8080, talosVersion: 'v1.11.5', adminToken: 'a-lab-token-of-32-characters-xxx', nodes: [{ name: 'lab-1', mac: '52:54:00:1a:b0:01', role: 'controlplane' }],
    });
    const said = await prepareAppliance(paths, { kernel: join(dir, 'vmlinuz'), initramfs: join(dir, 'initrd'), kernelPackage: 'linux-image-test' });
    expect(said.join('\n')).toMatch(/secrets/);
    expect(statSync(join(paths.dataDir, 'secrets.yaml')).mode & 0o777).toBe(0o600);
    // The empty schematic's ID (shared/pxe/CLIENTS.md).
    const assets = join(paths.assetsDir, '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba', 'v1.11.5');
    expect(readFileSync(join(assets, 'kernel-amd64')).equals(kernel)).toBe(true);
    expect(readFileSync(join(assets, 'initramfs-amd64.xz')).equals(initramfs)).toBe(true);
    expect(existsSync(join(paths.tftpRoot, 'undionly.kpxe'))).toBe(true);
  }, 60_000);
});
