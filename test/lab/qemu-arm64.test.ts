import { describe, expect, it } from 'vitest';
import { AAVMF_CODE, qemuArm64Args } from '../../src/lab/qemu-arm64.js';

const base = { mac: '52:54:00:a6:40:01', tap: 't0', serialFile: '/tmp/s', varsFile: '/tmp/vars.fd' };
const after = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe('qemuArm64Args: QEMU virt with AAVMF under TCG', () => {
  it('boots AAVMF as split pflash (code read-only, the private variables writable) on a virt machine, virtio-net without a ROM', () => {
    const args = qemuArm64Args({ ...base, uefiNetBoot: 'http' });
    expect(after(args, '-M')).toEqual(['virt']);
    expect(after(args, '-accel')).toEqual(['tcg']);
    expect(after(args, '-drive')).toEqual([`if=pflash,format=raw,readonly=on,file=${AAVMF_CODE}`, 'if=pflash,format=raw,file=/tmp/vars.fd']);
    expect(after(args, '-device')).toEqual(['virtio-net-pci,netdev=n0,mac=52:54:00:a6:40:01,romfile=']);
    expect(after(args, '-serial')).toEqual(['file:/tmp/s']);
  });

  it('http turns both PXE kinds off by fw_cfg (so UEFI HTTPv4 is first); pxe keeps the firmware\'s own order', () => {
    expect(after(qemuArm64Args({ ...base, uefiNetBoot: 'http' }), '-fw_cfg')).toEqual([
      'name=opt/org.tianocore/IPv4PXESupport,string=n', 'name=opt/org.tianocore/IPv6PXESupport,string=n',
    ]);
    expect(after(qemuArm64Args({ ...base, uefiNetBoot: 'pxe' }), '-fw_cfg')).toEqual([]);
  });
});
