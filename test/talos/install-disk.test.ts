// The install-disk check against Disks replies shaped as upstream's
// storaged fills them (device_name a full /dev path; serial, wwid, bus_path).
import { describe, expect, it } from 'vitest';
import type { Disk } from '../../src/talos/client.js';
import { matchInstallDisk } from '../../src/talos/install-disk.js';

const disk = (device_name: string, extra: Partial<Disk> = {}): Disk => ({
  size: '1', model: 'M', device_name, name: '', serial: '', wwid: '', bus_path: '', type: 'HDD', system_disk: false, ...extra,
});

describe('matchInstallDisk', () => {
  const disks = [
    disk('/dev/sda', { serial: 'QM00001', model: 'QEMU HARDDISK' }),
    disk('/dev/nvme0n1', { serial: 'S4EWNX0R123456', wwid: 'eui.0025388b91b2c5e1' }),
    disk('/dev/sdb', { wwid: 'naa.5000c500a1b2c3d4', serial: 'ZA1234' }),
  ];

  it('compares device names as upstream reports them, full paths, without adding /dev/ again', () => {
    expect(matchInstallDisk('/dev/sda', disks)).toEqual({ kind: 'found', device: '/dev/sda', via: 'device name' });
    expect(matchInstallDisk('/dev/sdc', disks)).toEqual({ kind: 'absent', have: ['/dev/sda', '/dev/nvme0n1', '/dev/sdb'] });
    // A bare name from an older or odd reply still reads as one path.
    expect(matchInstallDisk('/dev/vda', [disk('vda')])).toMatchObject({ kind: 'found', device: '/dev/vda' });
  });

  it('resolves by-id names made from a wwid or a serial', () => {
    expect(matchInstallDisk('/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', disks)).toEqual({ kind: 'found', device: '/dev/sdb', via: 'wwid naa.5000c500a1b2c3d4' });
    expect(matchInstallDisk('/dev/disk/by-id/nvme-eui.0025388b91b2c5e1', disks)).toMatchObject({ kind: 'found', device: '/dev/nvme0n1' });
    expect(matchInstallDisk('/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001', disks)).toEqual({ kind: 'found', device: '/dev/sda', via: 'serial QM00001' });
    expect(matchInstallDisk('/dev/disk/by-id/nvme-Samsung_SSD_970_EVO_S4EWNX0R123456', disks)).toMatchObject({ kind: 'found', device: '/dev/nvme0n1' });
  });

  it('says what it cannot check instead of calling the disk absent', () => {
    expect(matchInstallDisk('/dev/disk/by-id/usb-Generic_Flash_0001', disks)).toMatchObject({ kind: 'unverifiable', why: expect.stringContaining('not made from any reported serial or wwid') });
    expect(matchInstallDisk('/dev/disk/by-path/pci-0000:00:1f.2-ata-1', disks)).toMatchObject({ kind: 'unverifiable', why: expect.stringContaining('no by-path names') });
  });
});
