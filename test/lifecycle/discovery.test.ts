import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Store } from '../../src/store/store.js';
import { discoveredView } from '../../src/lifecycle/discovery.js';
import { inventory, nodeSpec } from './fixtures.js';

describe('discovered machines', () => {
  it('flags all-zero and duplicated UUIDs and leaves them out of the snippet', () => {
    const store = new Store(':memory:');
    store.syncInventory(inventory([nodeSpec('w1', 'aa:bb:cc:00:00:01', 'worker', { uuid: '11111111-2222-3333-4444-555555555555' })]));
    store.recordDiscovered({ mac: 'de:ad:00:00:00:01', source: 'dhcp', uuid: '00000000-0000-0000-0000-000000000000', arch: '7', vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
    store.recordDiscovered({ mac: 'de:ad:00:00:00:02', source: 'dhcp', uuid: '11111111-2222-3333-4444-555555555555', arch: '0', relay: '10.1.0.1' });
    store.recordDiscovered({ mac: 'de:ad:00:00:00:03', source: 'http', uuid: '99999999-2222-3333-4444-555555555555', arch: 'x86_64' });
    const byMac = new Map(discoveredView(store).map((d) => [d.mac, d]));
    expect(byMac.get('de:ad:00:00:00:01')).toMatchObject({ uuidFlag: 'all-zero', archName: 'x64 UEFI' });
    expect(byMac.get('de:ad:00:00:00:02')).toMatchObject({ uuidFlag: 'duplicate', archName: 'x86 BIOS', relay: '10.1.0.1' });
    expect(byMac.get('de:ad:00:00:00:03')).toMatchObject({ uuidFlag: null });
    expect(parse(byMac.get('de:ad:00:00:00:01')!.snippet)).toEqual([{ name: 'node-dead00000001', mac: 'de:ad:00:00:00:01', role: 'worker', installDisk: '/dev/sda' }]);
    expect(parse(byMac.get('de:ad:00:00:00:03')!.snippet)[0].uuid).toBe('99999999-2222-3333-4444-555555555555');
    store.close();
  });
});
