// Install disk by selector: exactly one match or a refusal naming every candidate.
import { describe, expect, it } from 'vitest';
import { parseSizeCondition, refusalText, selectDisk, SelectorNotExpressible, upstreamDiskSelector } from '../../src/talos/disk-selector.js';
import type { DiskFact } from '../../src/talos/hardware.js';

const disk = (o: Partial<DiskFact> & { id: string }): DiskFact => ({
  devPath: `/dev/${o.id}`, size: 0, model: '', serial: '', wwid: '', transport: '', rotational: false, readonly: false, cdrom: false, busPath: '', ...o,
});
const DISKS = [
  disk({ id: 'nvme0n1', size: 512e9, model: 'Samsung PM9A3', serial: 'S64A', wwid: 'eui.0025388', transport: 'nvme' }),
  disk({ id: 'nvme1n1', size: 512e9, model: 'Samsung PM9A3', serial: 'S64B', transport: 'nvme' }),
  disk({ id: 'sda', size: 4e12, model: 'HGST HUS726T4', serial: 'H1', transport: 'sata', rotational: true }),
  disk({ id: 'sr0', size: 1e9, model: 'QEMU DVD-ROM', transport: 'sata', cdrom: true }),
];

describe('size conditions', () => {
  it('reads operators and units, decimal and binary', () => {
    expect(parseSizeCondition('>= 400GB')).toEqual({ op: '>=', bytes: 400e9 });
    expect(parseSizeCondition('<2TB')).toEqual({ op: '<', bytes: 2e12 });
    expect(parseSizeCondition('480 GB')).toEqual({ op: '==', bytes: 480e9 });
    expect(parseSizeCondition('== 1 TiB')).toEqual({ op: '==', bytes: 2 ** 40 });
    expect(parseSizeCondition('about 400GB')).toBeUndefined();
    expect(parseSizeCondition('400 parsecs')).toBeUndefined();
  });
});

describe('selectDisk', () => {
  it('picks the one disk every key matches; a CD-ROM never matches', () => {
    expect(selectDisk({ transport: 'sata' }, DISKS)).toMatchObject({ kind: 'one', disk: { devPath: '/dev/sda' } });
    expect(selectDisk({ serial: 'S64B' }, DISKS)).toMatchObject({ kind: 'one', disk: { devPath: '/dev/nvme1n1' } });
    expect(selectDisk({ size: '>= 1TB', rotational: true }, DISKS)).toMatchObject({ kind: 'one', disk: { devPath: '/dev/sda' } });
    expect(selectDisk({ model: 'HGST*' }, DISKS)).toMatchObject({ kind: 'one', disk: { devPath: '/dev/sda' } });
    expect(selectDisk({ wwid: 'EUI.0025388' }, DISKS)).toMatchObject({ kind: 'one', disk: { devPath: '/dev/nvme0n1' } });
  });

  it('refuses an ambiguous match and lists the disks it matched', () => {
    const m = selectDisk({ transport: 'nvme', size: '>= 400GB' }, DISKS);
    expect(m.kind).toBe('many');
    expect(refusalText({ transport: 'nvme', size: '>= 400GB' }, m as Exclude<typeof m, { kind: 'one' }>)).toBe(
      'install disk selector {transport: "nvme", size: ">= 400GB"} matches 2 disks: /dev/nvme0n1 (512 GB, model Samsung PM9A3, serial S64A, nvme); '
      + '/dev/nvme1n1 (512 GB, model Samsung PM9A3, serial S64B, nvme); add serial or wwid to pick one');
  });

  it('refuses an empty match and says why each candidate failed', () => {
    const m = selectDisk({ size: '>= 8TB' }, DISKS);
    expect(m.kind).toBe('none');
    const text = refusalText({ size: '>= 8TB' }, m as Exclude<typeof m, { kind: 'one' }>);
    expect(text).toContain('matches no disk; candidates: /dev/nvme0n1 (512 GB, model Samsung PM9A3, serial S64A, nvme): size 512 GB;');
    expect(text).toContain('/dev/sda (4.0 TB, model HGST HUS726T4, serial H1, sata, rotational): size 4.0 TB');
    expect(text).toContain('/dev/sr0 (1.0 GB, model QEMU DVD-ROM, sata): a CD-ROM');
    expect(refusalText({ serial: 'x' }, { kind: 'none', candidates: [] })).toBe('install disk selector {serial: "x"} matches nothing: the node reported no disks');
  });
});

describe("upstream's machine.install.diskSelector", () => {
  it('carries size, model, serial, wwid and the one type upstream has', () => {
    expect(upstreamDiskSelector({ size: ' >= 400GB ', model: 'Samsung*', transport: 'nvme' })).toEqual({ size: '>= 400GB', model: 'Samsung*', type: 'nvme' });
    expect(upstreamDiskSelector({ rotational: true, serial: 'H1' })).toEqual({ serial: 'H1', type: 'hdd' });
    expect(upstreamDiskSelector({ rotational: false })).toEqual({ type: 'ssd' });
    expect(upstreamDiskSelector({ transport: 'mmc' })).toEqual({ type: 'sd' });
  });

  it('refuses a transport it cannot say instead of dropping it', () => {
    expect(() => upstreamDiskSelector({ transport: 'sata', size: '>= 1TB' })).toThrow(SelectorNotExpressible);
    expect(() => upstreamDiskSelector({ transport: 'nvme', rotational: true })).toThrow(/rotational: true/);
  });
});
