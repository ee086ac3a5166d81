// The readers' lookups on a shared store (SharedStore, scaleOut.postgres):
// appliance B answers from the shared tables what only appliance A wrote
// (B never loaded the inventory itself, so its SQLite copy is empty):
// console and TFTP sightings find the node behind an address, discovery
// flags a UUID an inventory node has, the bootstrap state and the
// last-etcd-member check read the shared cluster state.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeForAddress } from '../../../src/console/receiver.js';
import { BOOTSTRAP_KEY, ETCD_MEMBERS_KEY, KUBECONFIG_STALE_KEY, bootstrapState, etcdMembers } from '../../../src/lifecycle/cluster-state.js';
import { discoveredView } from '../../../src/lifecycle/discovery.js';
import { isLastEtcdMember } from '../../../src/lifecycle/etcd-loss.js';
import { PsqlSession } from '../../../src/store/pg/psql-session.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { recordTftpSighting } from '../../../src/tftp/sightings.js';
import { inventory, nodeSpec } from '../../lifecycle/fixtures.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const tmp = tempDirs('rb-readers-');
const UUID = '4c4c4544-0042-3510-8051-b2c04f333231';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

describe('readers on a shared store', () => {
  it('sightings, discovery and the bootstrap readers of B see what A wrote', async () => {
    const conninfo = pg.createDatabase('readers_lookups');
    const a = new SharedStore(join(tmp(), 'a.db'), conninfo);
    const b = new SharedStore(join(tmp(), 'b.db'), conninfo);
    const admin = new PsqlSession(conninfo);
    try {
      a.syncInventory(inventory([
        nodeSpec('cp1', 'aa:bb:cc:00:00:01', 'controlplane', { ip: '10.0.0.11', uuid: UUID }),
        nodeSpec('w2', 'aa:bb:cc:00:00:02'),
      ]));
      expect(b.db.prepare('SELECT count(*) AS n FROM nodes').get()).toEqual({ n: 0 });

      // Console: by inventory IP, then by a live lease in the shared table (another appliance's DHCP bound it).
      expect(nodeForAddress(b, '10.0.0.11')).toBe('cp1');
      await admin.exec("INSERT INTO leases (mac, ip, state, expires_at, updated_at) VALUES ('aa:bb:cc:00:00:02', '10.0.0.99', 'bound', $1, 0)", [Date.now() + 60_000]);
      expect(nodeForAddress(b, '10.0.0.99')).toBe('w2');
      expect(nodeForAddress(b, '10.0.0.98')).toBeUndefined();

      // TFTP: the client's IP leads to the MAC and its node; A reads the event.
      recordTftpSighting(b, { ip: '10.0.0.99', file: 'ipxe.efi', outcome: 'sent', message: 'sent ipxe.efi' });
      expect(a.events({ node: 'w2' }).at(-1)).toMatchObject({ kind: 'tftp', mac: 'aa:bb:cc:00:00:02' });
      expect(a.getNode('w2')!.lastSeen).not.toBeNull();
      // A page's nodes in one read each: in the order asked, with the lease and last event its row shows.
      const page = b.readers.pageNodes(['w2', 'nope', 'cp1']);
      expect(page.map((p) => [p.node.name, p.lease?.ip, p.last?.kind])).toEqual([['w2', '10.0.0.99', 'tftp'], ['cp1', undefined, 'inventory']]);

      // Discovery: an unknown machine with an inventory node's UUID is flagged.
      a.recordDiscovered({ mac: 'aa:bb:cc:99:00:01', source: 'dhcp', uuid: UUID });
      expect(discoveredView(b).map((d) => d.uuidFlag)).toEqual(['duplicate']);

      // Cluster state the leader wrote in the shared database (PgCoordination writes there first).
      expect(bootstrapState(b)).toBe('pending');
      a.shared.setClusterState(BOOTSTRAP_KEY, 'bootstrapped');
      expect(bootstrapState(b)).toBe('bootstrapped');
      a.setState('cp1', 'installed', 'installed');
      // The etcd members the leader's health check recorded; the kubeconfig flag stays each appliance's own.
      a.shared.setClusterState(ETCD_MEMBERS_KEY, JSON.stringify(['cp0']));
      expect(etcdMembers(b)).toEqual(['cp0']);
      a.shared.setClusterState(KUBECONFIG_STALE_KEY, 'true');
      expect(b.readers.clusterState(KUBECONFIG_STALE_KEY)).toBeUndefined();
      a.shared.setClusterState(ETCD_MEMBERS_KEY, '[]');
      // The only installed control plane of a bootstrapped cluster: B must ask before reimaging it.
      expect(isLastEtcdMember(b, b.getNode('cp1')!)).toBe(true);
    } finally {
      await admin.close();
      a.close();
      b.close();
    }
  });
});
