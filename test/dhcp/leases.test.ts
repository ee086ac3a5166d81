// Leases: an inventory reservation keeps its address from everyone else,
// found by index, so a large inventory costs no full read per DHCP packet.
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { Leases } from '../../src/dhcp/leases.js';
import { inventoryOf, NODES } from './context.js';

describe('Leases and inventory reservations', () => {
  it('holds a reserved address for its node only, and never allocates it from the pool', () => {
    const store = new Store(':memory:');
    store.syncInventory(inventoryOf(NODES));
    const leases = new Leases(store.db);
    expect(leases.heldByOther('10.77.0.11', 'de:ad:00:00:00:01')).toBe(true);
    expect(leases.heldByOther('10.77.0.11', '52:54:00:12:34:01')).toBe(false);
    expect(leases.heldByOther('10.77.0.13', 'de:ad:00:00:00:01')).toBe(false);
    // A pool over the reservations 10.77.0.11 and .12: the first free address is .13.
    expect(leases.allocate('de:ad:00:00:00:01', { start: '10.77.0.11', end: '10.77.0.13' }, () => false)).toBe('10.77.0.13');
    // Asking for a reserved address does not get it.
    expect(leases.allocate('de:ad:00:00:00:02', { start: '10.77.0.11', end: '10.77.0.20' }, () => false, '10.77.0.12')).not.toBe('10.77.0.12');
    store.close();
  });

  it('looks reservations up by address, without reading every node', () => {
    const store = new Store(':memory:');
    store.syncInventory(inventoryOf(NODES));
    const ran: string[] = [];
    const prepare = store.db.prepare.bind(store.db);
    store.db.prepare = ((sql: string) => (ran.push(sql), prepare(sql))) as typeof store.db.prepare;
    new Leases(store.db);
    const onNodes = ran.filter((sql) => /\bFROM nodes\b/.test(sql));
    expect(onNodes.length).toBeGreaterThan(0);
    for (const sql of onNodes) {
      const plan = (prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array((sql.match(/\?/g) ?? []).length).fill(null)) as Array<{ detail: string }>).map((p) => p.detail).join('; ');
      expect(plan, sql).not.toMatch(/SCAN nodes/);
    }
    store.close();
  });
});
