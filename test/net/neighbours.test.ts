import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAddon } from '../../src/net/addon.js';
import { FakeNeighbours, KernelNeighbours, parseArpTable } from '../../src/net/neighbours.js';
import { missingPrerequisites, Netns, uniqueSuffix } from '../helpers/netns.js';

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

  it('with an interface set, asks the kernel for the one entry instead of reading the table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-arp-'));
    try {
      const file = join(dir, 'arp');
      writeFileSync(file, TABLE);
      const asked: string[] = [];
      let iface: string | undefined = 'br0';
      const lookup = (ifname: string, ipv4: string) => {
        asked.push(`${ifname} ${ipv4}`);
        return ipv4 === '10.77.0.11' ? '52:54:00:BB:BB:BB' : null;
      };
      const table = new KernelNeighbours({ file, iface: () => iface, lookup });
      expect(table.neighbourMac('10.77.0.11')).toBe('52:54:00:bb:bb:bb');
      expect(table.neighbourMac('10.77.0.13')).toBeUndefined();
      // Not an IPv4 address: no entry can exist, and the kernel is not asked.
      expect(table.neighbourMac('fe80::1')).toBeUndefined();
      expect(asked).toEqual(['br0 10.77.0.11', 'br0 10.77.0.13']);
      // No interface: the whole table is searched, as before.
      iface = undefined;
      expect(table.neighbourMac('10.77.0.13')).toBe('52:54:00:12:34:03');
      expect(asked).toHaveLength(2);
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

// The addon's lookup against a real neighbour table, in a namespace of the
// test's own: it must say what /proc/net/arp says for every kind of entry.
describe.skipIf(missingPrerequisites([]))('the addon\'s one-entry lookup (getArp)', () => {
  it('gives the MAC of complete entries on the named interface only, as the table does', async () => {
    const ns = Netns.create(`rbnb-${uniqueSuffix()}`);
    try {
      ns.exec('ip', ['link', 'add', 'nb0', 'type', 'veth', 'peer', 'name', 'nb1']);
      for (const dev of ['nb0', 'nb1']) ns.exec('ip', ['link', 'set', dev, 'up']);
      const entries: [string, string[]][] = [
        ['10.91.0.5', ['lladdr', '52:54:00:aa:bb:05', 'nud', 'reachable']],
        ['10.91.0.6', ['lladdr', '52:54:00:aa:bb:06', 'nud', 'permanent']],
        ['10.91.0.7', ['nud', 'incomplete']],
        ['10.91.0.8', ['lladdr', '52:54:00:aa:bb:08', 'nud', 'stale']],
        ['10.91.0.9', ['lladdr', '52:54:00:aa:bb:09', 'nud', 'failed']],
      ];
      for (const [ip, how] of entries) ns.exec('ip', ['neigh', 'add', ip, ...how, 'dev', 'nb0']);
      ns.exec('ip', ['neigh', 'add', '10.91.0.5', 'lladdr', '52:54:00:cc:cc:05', 'nud', 'reachable', 'dev', 'nb1']);
      const addresses = ['10.91.0.5', '10.91.0.6', '10.91.0.7', '10.91.0.8', '10.91.0.9', '10.91.0.99'];
      const probe = `const a = require(${JSON.stringify(findAddon())});
        const out = {};
        for (const dev of ['nb0', 'nb1', 'nb9']) out[dev] = ${JSON.stringify(addresses)}.map((ip) => a.getArp(dev, ip));
        out.table = require('fs').readFileSync('/proc/net/arp', 'utf8');
        console.log(JSON.stringify(out));`;
      const seen = JSON.parse(ns.exec(process.execPath, ['-e', probe])) as Record<string, (string | null)[]> & { table: string };
      expect(seen.nb0).toEqual(['52:54:00:aa:bb:05', '52:54:00:aa:bb:06', null, '52:54:00:aa:bb:08', null, null]);
      expect(seen.nb1).toEqual(['52:54:00:cc:cc:05', null, null, null, null, null]);
      expect(seen.nb9).toEqual(addresses.map(() => null));
      // The same answers as searching the table the kernel printed at that moment.
      const dir = mkdtempSync(join(tmpdir(), 'rb-arp-'));
      try {
        const file = join(dir, 'arp');
        writeFileSync(file, seen.table);
        for (const dev of ['nb0', 'nb1'] as const) {
          const fromTable = new KernelNeighbours({ file, iface: () => dev });
          expect(seen[dev]).toEqual(addresses.map((ip) => fromTable.neighbourMac(ip) ?? null));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await ns.destroy();
    }
  });
});
