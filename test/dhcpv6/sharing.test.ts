// The queue the DHCPv6 service answers shared-segment datagrams through
// (branch pg-dhcp6); answerShared6 itself runs against a real PostgreSQL in
// test/store/pg/dhcpv6-book.test.ts.
import { describe, expect, it } from 'vitest';
import { answerQueue } from '../../src/dhcpv6/sharing.js';

describe('the shared DHCPv6 answer queue', () => {
  it('answers one datagram after another, and refuses past its bound until one is done', async () => {
    const queue = answerQueue(2);
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = queue.push(async () => { await held; order.push('first'); return 1; });
    const second = queue.push(async () => { order.push('second'); return 2; });
    expect(queue.push(async () => 3)).toBeUndefined();
    release();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(order).toEqual(['first', 'second']);
    expect(await queue.push(async () => 4)).toBe(4);
  });
});
