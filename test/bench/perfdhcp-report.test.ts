import { describe, expect, it } from 'vitest';
import { perfdhcpStats } from '../../bench/lib/perfdhcp-report.mjs';

// perfdhcp 2.2.0's report for `-4 -r 25 -R 100 -p 8` against rackboot (captured
// from test/dhcp/netns/full.test.ts), with three ACKs taken out of REQUEST-ACK
// so the two kinds differ.
const REPORT = `Running: perfdhcp -4 -l rbdfauzkr -r 25 -R 100 -p 8
Scenario: basic.
Multi-thread mode enabled.
***Rate statistics***
Rate: 24.8737 4-way exchanges/second, expected rate: 25

***Malformed Packets***
Malformed packets: 0
***Statistics for: DISCOVER-OFFER***
sent packets: 199
received packets: 199
drops: 0
drops ratio: 0 %
orphans: 0
rejected leases: 0
non unique addresses: 0

min delay: 0.919 ms
avg delay: 2.433 ms
max delay: 6.001 ms
std deviation: 0.830 ms
collected packets: 0

***Statistics for: REQUEST-ACK***
sent packets: 199
received packets: 196
drops: 3
drops ratio: 1.508 %
orphans: 0
rejected leases: 0
non unique addresses: 0

min delay: 1.291 ms
avg delay: 2.661 ms
max delay: 12.337 ms
std deviation: 1.292 ms
collected packets: 0
`;

describe('perfdhcpStats', () => {
  it('reads each exchange kind from its own section, in report order', () => {
    const stats = perfdhcpStats(REPORT);
    expect(Object.keys(stats)).toEqual(['DISCOVER-OFFER', 'REQUEST-ACK']);
    expect(stats['DISCOVER-OFFER']).toEqual({ sent: 199, received: 199, drops: 0 });
    expect(stats['REQUEST-ACK']).toEqual({ sent: 199, received: 196, drops: 3 });
  });

  it('has only the kinds perfdhcp reached (a run cut short before REQUEST-ACK)', () => {
    const cut = REPORT.slice(0, REPORT.indexOf('***Statistics for: REQUEST-ACK***'));
    expect(Object.keys(perfdhcpStats(cut))).toEqual(['DISCOVER-OFFER']);
  });

  it('gives NaN for a count missing from its section, not the next section\'s', () => {
    const noDrops = REPORT.replace(/^drops: 0$/m, '');
    expect(perfdhcpStats(noDrops)['DISCOVER-OFFER']!.drops).toBeNaN();
    expect(perfdhcpStats(noDrops)['REQUEST-ACK']!.drops).toBe(3);
  });
});
