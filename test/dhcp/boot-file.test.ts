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

// branch arm64 (issue 23 item 4): AAVMF's HTTPv4 boot sends option 93 = 19 and `HTTPClient:Arch:00019:UNDI:003000`.
describe('arm64 UEFI HTTP boot (arch 19): the UKI of an arm64 node, or why not', () => {
  const http = (arch: number) => ({ vendorClass: `HTTPClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003000`, clientArch: [arch] });
  const ukiNode = (arch?: 'amd64' | 'arm64') => ({ name: 'a1', mac: '52:54:00:a6:40:01', spec: { httpBoot: 'uki', ...(arch ? { arch } : {}) } }) as unknown as NodeRecord;
  const ukiSettings = settings({ ukiFor: (n) => ({ url: `http://10.77.0.1:8080/uki/${n.mac.replaceAll(':', '-')}.efi` }) });

  it('an arm64 httpBoot: uki node marked for install gets its UKI URL with HTTPClient', () => {
    expect(chooseBootFile(http(19), { kind: 'install', node: ukiNode('arm64') }, ukiSettings))
      .toMatchObject({ kind: 'file', file: 'http://10.77.0.1:8080/uki/52-54-00-a6-40-01.efi', httpClient: true, why: 'UKI by HTTP boot (arch 19)' });
  });

  it('refuses a UKI to firmware of the other CPU than the inventory says, naming both', () => {
    const amd64Node = chooseBootFile(http(19), { kind: 'install', node: ukiNode() }, ukiSettings);
    expect(amd64Node).toMatchObject({ kind: 'none', why: expect.stringMatching(/firmware is arm64 but the inventory says arch amd64/) });
    const arm64Node = chooseBootFile(http(16), { kind: 'install', node: ukiNode('arm64') }, ukiSettings);
    expect(arm64Node).toMatchObject({ kind: 'none', why: expect.stringMatching(/firmware is amd64 but the inventory says arch arm64/) });
    // The matching pair still boots: amd64 firmware, amd64 (default) node.
    expect(chooseBootFile(http(16), { kind: 'install', node: ukiNode() }, ukiSettings)).toMatchObject({ kind: 'file', httpClient: true });
  });

  it('an arm64 node left at httpBoot: ipxe with no arm64 iPXE in the TFTP root gets nothing, and the why says what to do', () => {
    const ipxeNode = { name: 'a2', spec: { arch: 'arm64' } } as unknown as NodeRecord;
    const noArm64 = settings({ inTftpRoot: (f) => f !== 'ipxe-arm64.efi' });
    for (const arch of [11, 19]) {
      const b = chooseBootFile(arch === 19 ? http(19) : pxe(11), { kind: 'install', node: ipxeNode }, noArm64);
      expect(b).toMatchObject({ kind: 'none', why: expect.stringMatching(/ipxe-arm64\.efi is not in the TFTP root .*httpBoot: uki/) });
    }
  });
});
