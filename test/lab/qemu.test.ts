import { describe, expect, it } from 'vitest';
import { OVMF, OVMF_CODE_4M, qemuArgs } from '../../src/lab/qemu.js';

describe('qemuArgs', () => {
  it('BIOS: e1000 with its iPXE ROM, network boot, TCG, serial to a file', () => {
    const a = qemuArgs({ firmware: 'bios', mac: '52:54:00:00:00:01', tap: 't0', serialFile: '/tmp/s' });
    expect(a.slice(0, 2)).toEqual(['-accel', 'tcg']);
    expect(a).toContain('e1000,netdev=n0,mac=52:54:00:00:00:01');
    expect(a.join(' ')).toContain('-boot n');
    expect(a).not.toContain(OVMF);
    expect(a.join(' ')).toContain('-serial file:/tmp/s');
    expect(a).toContain('-no-reboot');
  });

  it('UEFI: OVMF and virtio-net with an empty romfile so the firmware PXE client runs', () => {
    const a = qemuArgs({ firmware: 'uefi', mac: '52:54:00:00:00:02', tap: 't1', serialFile: '/tmp/u', uuid: '11223344-5566-7788-99aa-bbccddeeff01', memoryMb: 1024 });
    expect(a.join(' ')).toContain(`-bios ${OVMF}`);
    expect(a).toContain('virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02,romfile=,bootindex=1');
    expect(a.join(' ')).toContain('-uuid 11223344-5566-7788-99aa-bbccddeeff01');
    expect(a.join(' ')).toContain('-m 1024');
    expect(a.join(' ')).toContain('ifname=t1,script=no,downscript=no');
  });

  it('UEFI HTTP boot: split OVMF with a private variable store, both PXE kinds switched off by fw_cfg', () => {
    const a = qemuArgs({ firmware: 'uefi', uefiNetBoot: 'http', varsFile: '/tmp/v.fd', mac: '52:54:00:00:00:03', tap: 't2', serialFile: '/tmp/h' });
    const line = a.join(' ');
    expect(line).not.toContain('-bios');
    expect(line).toContain(`-drive if=pflash,format=raw,readonly=on,file=${OVMF_CODE_4M}`);
    expect(line).toContain('-drive if=pflash,format=raw,file=/tmp/v.fd');
    expect(line).toContain('-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n');
    expect(line).toContain('-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n');
    // Still the firmware's own network stack: no iPXE option ROM on the NIC.
    expect(a).toContain('virtio-net-pci,netdev=n0,mac=52:54:00:00:00:03,romfile=,bootindex=1');
    expect(() => qemuArgs({ firmware: 'uefi', uefiNetBoot: 'http', mac: 'm', tap: 't', serialFile: 's' })).toThrow(/varsFile/);
  });

  it('UEFI HTTPv6: no IPv4 and no PXE in the firmware, and a boot menu wait for duplicate address detection; the other kinds have no wait', () => {
    const line = qemuArgs({ firmware: 'uefi', uefiNetBoot: 'http6', varsFile: '/tmp/v.fd', mac: 'm', tap: 't', serialFile: 's' }).join(' ');
    expect(line).toContain('-fw_cfg name=opt/org.tianocore/IPv4Support,string=n');
    expect(line).toContain('-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n');
    expect(line).toContain('-boot menu=on,splash-time=5000');
    for (const kind of ['http', 'pxe6'] as const) {
      const other = qemuArgs({ firmware: 'uefi', uefiNetBoot: kind, varsFile: '/tmp/v.fd', mac: 'm', tap: 't', serialFile: 's' }).join(' ');
      expect(other).not.toContain('-boot');
      expect(other).not.toContain('IPv4Support');
    }
  });

  it('Secure Boot: the SMM secboot build on q35 with secure flash; without it, neither', () => {
    const line = qemuArgs({ firmware: 'uefi', uefiNetBoot: 'http', secureBoot: true, varsFile: '/tmp/v.fd', mac: 'm', tap: 't', serialFile: 's' }).join(' ');
    expect(line).toContain('-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on');
    expect(line).toContain('-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd');
    const plain = qemuArgs({ firmware: 'uefi', uefiNetBoot: 'http', varsFile: '/tmp/v.fd', mac: 'm', tap: 't', serialFile: 's' }).join(' ');
    expect(plain).not.toContain('smm=on');
    expect(plain).not.toContain('secboot');
  });

  it('attaches a disk only when given one', () => {
    expect(qemuArgs({ firmware: 'bios', mac: 'm', tap: 't', serialFile: 's' }).join(' ')).not.toContain('-drive');
    expect(qemuArgs({ firmware: 'bios', mac: 'm', tap: 't', serialFile: 's', disk: '/d.img' }).join(' ')).toContain('-drive file=/d.img,format=raw');
  });
});
