import { describe, expect, it } from 'vitest';
import { chooseBootFile, isPxeClient, type BootFileSettings } from '../../src/dhcp/boot-file.js';
import type { BootAction } from '../../src/lifecycle/boot.js';
import type { NodeRecord } from '../../src/store/store.js';

const settings = (over: Partial<BootFileSettings> = {}): BootFileSettings => ({
  publicUrl: 'http://10.77.0.1:8080', efiBinary: 'ipxe.efi', arm64Binary: 'ipxe-arm64.efi', bootFileForInstalled: true,
  inTftpRoot: () => true, ...over,
});
const node = { name: 'n1' } as NodeRecord;
const install: BootAction = { kind: 'install', node };
const disk: BootAction = { kind: 'local-disk', node, reason: 'installed' };
const pxe = (arch: number, extra = {}) => ({ vendorClass: `PXEClient:Arch:${String(arch).padStart(5, '0')}`, clientArch: [arch], ...extra });

describe('boot file by client architecture (RFC 4578 option 93)', () => {
  const cases: Array<[number, string, boolean]> = [
    [0, 'undionly.kpxe', false],
    [6, 'snponly.efi', false],
    [7, 'snponly.efi', false],
    [9, 'snponly.efi', false],
    [11, 'ipxe-arm64.efi', false],
    [16, 'http://10.77.0.1:8080/ipxe/snponly.efi', true],
    [19, 'http://10.77.0.1:8080/ipxe/ipxe-arm64.efi', true],
  ];
  for (const [arch, file, httpClient] of cases) {
    it(`arch ${arch} → ${file}`, () => {
      expect(chooseBootFile(pxe(arch), install, settings({ efiBinary: 'snponly.efi' }))).toMatchObject({ kind: 'file', file, httpClient });
    });
  }

  it('gives iPXE the script URL whatever its architecture, so it never loops', () => {
    for (const arch of [0, 7, 11]) {
      expect(chooseBootFile(pxe(arch, { userClass: ['iPXE'] }), install, settings())).toMatchObject({ kind: 'file', file: 'http://10.77.0.1:8080/boot.ipxe' });
    }
  });

  it('refuses x64 HTTP boot when dhcp.efiBinary is not in the TFTP root (GET /ipxe/ would 404)', () => {
    const none = chooseBootFile(pxe(16), install, settings({ efiBinary: 'snponly.efi', inTftpRoot: (f) => f !== 'snponly.efi' }));
    expect(none).toMatchObject({ kind: 'none', why: expect.stringMatching(/snponly\.efi is not in the TFTP root/) });
  });

  it('refuses arm64 when the binary is not in the TFTP root, and unknown architectures', () => {
    expect(chooseBootFile(pxe(11), install, settings({ inTftpRoot: () => false })).kind).toBe('none');
    expect(chooseBootFile(pxe(19), install, settings({ inTftpRoot: () => false })).kind).toBe('none');
    expect(chooseBootFile(pxe(2), install, settings()).kind).toBe('none');
  });

  it('gives nothing to non-PXE clients, and to disk-booting nodes when bootFileForInstalled is false', () => {
    expect(isPxeClient({})).toBe(false);
    expect(chooseBootFile({}, install, settings()).kind).toBe('none');
    expect(chooseBootFile(pxe(0), disk, settings({ bootFileForInstalled: false }))).toMatchObject({ kind: 'none' });
    expect(chooseBootFile(pxe(0), disk, settings({ bootFileForInstalled: true }))).toMatchObject({ kind: 'file', file: 'undionly.kpxe' });
    expect(chooseBootFile(pxe(0), { kind: 'unknown' }, settings())).toMatchObject({ kind: 'file', file: 'undionly.kpxe' });
  });
});
