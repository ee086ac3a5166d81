import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeNeighbours, KernelNeighbours, parseArpTable } from '../../src/net/neighbours.js';

// /proc/net/arp as Linux writes it: complete entries (0x2), an incomplete one (0x0), a permanent one (0x6).
const TABLE = `IP address       HW type     Flags       HW address            Mask     Device
10.77.0.11       0x1         0x2         52:54:00:12:34:01     *        br0
10.77.0.12       0x1         0x0         00:00:00:00:00:00     *        br0
10.77.0.13       0x1         0x6         52:54:00:12:34:03     *        br0
10.77.0.11       0x1         0x2         52:54:00:aa:aa:aa     *        eth1
garbage line
`;

describe('the kernel neighbour table', () => {
  it('parses complete entries and leaves out incomplete and malformed lines', () => {
    expect(parseArpTable(TABLE)).toEqual([
      { address: '10.77.0.11', mac: '52:54:00:12:34:01', device: 'br0' },
      { address: '10.77.0.13', mac: '52:54:00:12:34:03', device: 'br0' },
      { address: '10.77.0.11', mac: '52:54:00:aa:aa:aa', device: 'eth1' },
    ]);
    expect(parseArpTable('')).toEqual([]);
  });

  // branch commission: a commissioned machine without a lease of ours is found by its MAC.
  it('finds the address carrying a MAC, on the provisioning interface only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-arp-'));
    try {
      const file = join(dir, 'arp');
      writeFileSync(file, TABLE);
      let iface: string | undefined = 'br0';
      const table = new KernelNeighbours({ file, iface: () => iface });
      expect(table.addressOf('52:54:00:12:34:03')).toBe('10.77.0.13');
      expect(table.addressOf('52:54:00:aa:aa:aa')).toBeUndefined();
      iface = 'eth1';
      expect(table.addressOf('52:54:00:aa:aa:aa')).toBe('10.77.0.11');
      expect(new KernelNeighbours({ file: join(dir, 'missing') }).addressOf('52:54:00:12:34:03')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers for the provisioning interface only when one is set; unknown addresses and a missing table give undefined', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-arp-'));
    try {
      const file = join(dir, 'arp');
      writeFileSync(file, TABLE);
      let iface: string | undefined = 'eth1';
      const table = new KernelNeighbours({ file, iface: () => iface });
      expect(table.neighbourMac('10.77.0.11')).toBe('52:54:00:aa:aa:aa');
      iface = 'br0';
      expect(table.neighbourMac('10.77.0.11')).toBe('52:54:00:12:34:01');
      expect(table.neighbourMac('10.77.0.12')).toBeUndefined();
      expect(table.neighbourMac('10.77.0.99')).toBeUndefined();
      expect(new KernelNeighbours({ file: join(dir, 'missing') }).neighbourMac('10.77.0.11')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the fake normalises MACs and can be changed', () => {
    const fake = new FakeNeighbours({ '10.0.0.1': '52-54-00-00-00-01' });
    expect(fake.neighbourMac('10.0.0.1')).toBe('52:54:00:00:00:01');
    fake.delete('10.0.0.1').set('10.0.0.2', '5254.0000.0002');
    expect(fake.neighbourMac('10.0.0.1')).toBeUndefined();
    expect(fake.neighbourMac('10.0.0.2')).toBe('52:54:00:00:00:02');
  });
});
