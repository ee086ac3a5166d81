import { describe, expect, it } from 'vitest';
import { OVMF, qemuArgs } from '../../src/lab/qemu.js';

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

  it('attaches a disk only when given one', () => {
    expect(qemuArgs({ firmware: 'bios', mac: 'm', tap: 't', serialFile: 's' }).join(' ')).not.toContain('-drive');
    expect(qemuArgs({ firmware: 'bios', mac: 'm', tap: 't', serialFile: 's', disk: '/d.img' }).join(' ')).toContain('-drive file=/d.img,format=raw');
  });
});
