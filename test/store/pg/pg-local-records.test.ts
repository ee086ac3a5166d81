// Two appliances on one PostgreSQL store (SharedStore, `store: postgres://…`):
// a commissioning record and a Talos-reported hostname written on A are
// read on B (branch pg-local). Before, each stayed in the SQLite file of the
// appliance that wrote it, and B's discovered page and node page showed none.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Inventory, NodeSpec } from '../../../src/inventory/types.js';
import { discoveredView } from '../../../src/lifecycle/discovery.js';
import {
  commissionRecord, commissionsToRead, recordCommissionBoot, recordCommissionError, recordCommissionFacts,
} from '../../../src/store/discovered-hardware.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { nodeHostname, recordNodeHostname } from '../../../src/talos/node-hostname.js';
import { COMMISSIONED_FACTS, COMMISSIONED_MAC } from '../../lifecycle/commission-fixture.js';
import { usePgAndTempDir } from '../../helpers/postgres.js';

const spec: NodeSpec = { name: 'w1', mac: '52:54:00:00:00:01', role: 'worker', installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] };
const inv: Inventory = { cluster: { name: 't' } as Inventory['cluster'], nodes: [spec] };
const rig = usePgAndTempDir('rb-pg-local-');
const opened: SharedStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

/** Appliances A and B: each its own SQLite file, one fresh shared database. */
function twoAppliances(): [SharedStore, SharedStore] {
  const conninfo = rig.database();
  const open = (name: string) => {
    const s = new SharedStore(join(rig.dir, `${name}-${opened.length}-${process.hrtime.bigint()}.db`), conninfo);
    opened.push(s);
    s.syncInventory(inv);
    return s;
  };
  return [open('a'), open('b')];
}

describe('commissioning records, shared', () => {
  it('a machine A served the commissioning kernel and read is on B\'s discovered page with its facts', () => {
    const [a, b] = twoAppliances();
    a.recordDiscovered({ mac: COMMISSIONED_MAC, source: 'dhcp', arch: '7' });
    recordCommissionBoot(a, COMMISSIONED_MAC, 1_000);
    expect(commissionsToRead(b, 0).map((c) => c.mac)).toEqual([COMMISSIONED_MAC]);
    recordCommissionFacts(a, COMMISSIONED_MAC, '10.77.0.50:50000', COMMISSIONED_FACTS, 2_000);
    expect(commissionRecord(b, COMMISSIONED_MAC)).toMatchObject({ state: 'read', bootedAt: 1_000, readAt: 2_000, endpoint: '10.77.0.50:50000', lastError: null });
    const [seen] = discoveredView(b);
    expect(seen).toMatchObject({ mac: COMMISSIONED_MAC, commission: { state: 'read', readAt: 2_000 } });
    expect(commissionsToRead(b, 0)).toEqual([]);
  });

  it('B failing to reach a machine A has read leaves A\'s record as it is', () => {
    const [a, b] = twoAppliances();
    a.recordDiscovered({ mac: COMMISSIONED_MAC, source: 'dhcp' });
    recordCommissionBoot(a, COMMISSIONED_MAC, 1_000);
    // B listed it while it was booting, then A read it, then B's attempt fails.
    recordCommissionFacts(a, COMMISSIONED_MAC, '10.77.0.50:50000', COMMISSIONED_FACTS, 2_000);
    recordCommissionError(b, COMMISSIONED_MAC, null, 'no address known yet');
    expect(commissionRecord(a, COMMISSIONED_MAC)).toMatchObject({ state: 'read', lastError: null, endpoint: '10.77.0.50:50000' });
    // While it is still booting, an error is recorded wherever it happens.
    recordCommissionBoot(b, COMMISSIONED_MAC, 3_000);
    recordCommissionError(b, COMMISSIONED_MAC, null, 'no address known yet');
    expect(commissionRecord(a, COMMISSIONED_MAC)).toMatchObject({ state: 'booting', bootedAt: 3_000, lastError: 'no address known yet' });
  });

  it('a record is dropped with its machine from the shared discovered list, at the next commissioning boot', () => {
    const [a, b] = twoAppliances();
    // Its own boot keeps it: the daemon writes the machine's discovered row after the turn that served it.
    recordCommissionBoot(a, COMMISSIONED_MAC, 1_000);
    expect(commissionRecord(b, COMMISSIONED_MAC)).toMatchObject({ state: 'booting' });
    const other = '52:54:00:00:00:99';
    b.recordDiscovered({ mac: other, source: 'http' });
    recordCommissionBoot(b, other, 2_000);
    expect(commissionRecord(a, COMMISSIONED_MAC)).toBeUndefined();
    expect(commissionRecord(a, other)).toMatchObject({ state: 'booting', bootedAt: 2_000 });
  });
});

describe('Talos-reported hostnames, shared', () => {
  it('the hostname A read from the node is the one B shows; a later read on B replaces it for A', () => {
    const [a, b] = twoAppliances();
    recordNodeHostname(a, 'w1', { hostname: 'talos-abc-xyz', domainname: 'rack.example' }, 'maintenance', 1_000);
    expect(nodeHostname(b, 'w1')).toEqual({ hostname: 'talos-abc-xyz', domainname: 'rack.example', seenIn: 'maintenance', readAt: 1_000 });
    recordNodeHostname(b, 'w1', { hostname: 'w1', domainname: '' }, 'installed', 2_000);
    expect(nodeHostname(a, 'w1')).toEqual({ hostname: 'w1', domainname: '', seenIn: 'installed', readAt: 2_000 });
    expect(nodeHostname(a, 'w2')).toBeUndefined();
    // The overview reads them with the page's nodes, in the same statement.
    expect(b.readers.pageNodes(['w1']).map((p) => [p.node.name, p.hostname])).toEqual([['w1', { hostname: 'w1', domainname: '', seen_in: 'installed', read_at: 2_000 }]]);
  });
});
