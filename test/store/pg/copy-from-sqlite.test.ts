// `rackboot store migrate` of an appliance that has installed a cluster
// (src/store/pg/copy-from-sqlite.ts): a real SQLite store with nodes in
// their states, their history and discovered machines, moved into a
// throwaway PostgreSQL 15. A PgStore opened on it sees the same nodes,
// states, events (same ids) and sightings; an installed node still boots
// from its disk, also after the daemon's first inventory load; a second run
// is refused without --force, and --force replaces append-only events.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeMigrate } from '../../../src/cli/store-migrate.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { bootActionFor } from '../../../src/lifecycle/boot.js';
import { PgStore } from '../../../src/store/pg/pg-store.js';
import { Store } from '../../../src/store/store.js';
import { runCommand } from '../../cli/run-command.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());
const tmp = tempDirs('rb-copy-');

function inventory(nodes: Array<[string, string]>): Inventory {
  const text = `cluster:\n  name: c\n  controlPlaneEndpoint: https://10.0.0.1:6443\n  talosVersion: v1.11.5\nnodes:\n${nodes
    .map(([name, mac]) => `  - name: ${name}\n    mac: ${mac}\n    role: ${name.startsWith('cp') ? 'controlplane' : 'worker'}\n`)
    .join('')}`;
  const r = parseInventory(text, 'x');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.inventory;
}

const CLUSTER = inventory([['cp1', '52:54:00:00:01:01'], ['w1', '52:54:00:00:01:02'], ['w2', '52:54:00:00:01:03'], ['w3', '52:54:00:00:01:04']]);

/** An appliance's store after installing cp1 and w1, w2 failing, w3 still to install, and an old node removed. */
function installedAppliance(): string {
  const file = join(tmp(), 'rackboot.db');
  const s = new Store(file);
  s.syncInventory(inventory([['old', '52:54:00:00:01:09'], ...CLUSTER.nodes.map((n): [string, string] => [n.name, n.mac])]));
  s.syncInventory(CLUSTER);
  for (const name of ['cp1', 'w1', 'w2']) {
    for (const [from, to] of [['registered', 'booting'], ['booting', 'maintenance'], ['maintenance', 'configuring'], ['configuring', 'installing']] as const) {
      s.setState(name, to, `test: ${to}`, { from });
    }
    s.touch(name);
  }
  s.setState('cp1', 'installed', 'Talos runs from disk', { from: 'installing', markedForInstall: false });
  s.setState('cp1', 'ready', 'Talos API healthy and etcd member', { from: 'installed', markedForInstall: false });
  s.setState('w1', 'installed', 'Talos runs from disk', { from: 'installing', markedForInstall: false });
  s.setState('w2', 'failed', 'install timed out', { from: 'installing', failedStep: 'installing' });
  s.appendEvent({ node: 'cp1', kind: 'bootstrap', message: 'bootstrapped etcd', data: { member: 'cp1', quote: "it's" } });
  s.recordDiscovered({ mac: '52:54:00:00:0f:01', source: 'dhcp', arch: 'x64', vendorClass: 'PXEClient:Arch:00007' });
  s.recordDiscovered({ mac: '52:54:00:00:0f:02', source: 'tftp' });
  s.setClusterState('talos.bootstrap', 'bootstrapped');
  s.close();
  return file;
}

const snapshot = (s: Store | PgStore) => ({
  nodes: s.listNodes({ includeRemoved: true }),
  events: s.events({ limit: 5000 }),
  // By MAC: machines seen in the same millisecond have no order of their own on either backend.
  discovered: s.listDiscovered().sort((a, b) => a.mac.localeCompare(b.mac)),
  bootstrap: s.getClusterState('talos.bootstrap'),
});

describe('store migrate of an installed appliance', () => {
  it('moves nodes with their states, events with their ids and discovered machines; installed nodes still boot from disk', async () => {
    const file = installedAppliance();
    const conninfo = pg.createDatabase('copy_installed');
    const uri = `postgresql://rackboot@/copy_installed?host=${pg.dir}`;
    const local = new Store(file);
    const before = snapshot(local);
    local.close();
    expect(before.nodes.map((n) => [n.name, n.state])).toEqual([['old', 'registered'], ['cp1', 'ready'], ['w1', 'installed'], ['w2', 'failed'], ['w3', 'registered']]);

    const r = await runCommand(storeMigrate, ['--from', `sqlite://${file}`, '--to', uri]);
    expect(r.err).toBe('');
    expect(r.out).toContain('nodes: 5 rows copied');
    expect(r.out).toContain(`events: ${before.events.length} rows copied`);
    expect(r.out).toContain('discovered: 2 rows copied');

    const shared = new PgStore(conninfo);
    try {
      expect(snapshot(shared)).toEqual(before);
      expect(shared.getNode('w2')).toMatchObject({ state: 'failed', failedStep: 'installing', stateReason: 'install timed out', markedForInstall: true });
      const bootOf = (mac: string) => bootActionFor(shared.nodeByMac(mac)).kind;
      expect([bootOf('52:54:00:00:01:01'), bootOf('52:54:00:00:01:02'), bootOf('52:54:00:00:01:04'), bootOf('52:54:00:00:01:09')])
        .toEqual(['local-disk', 'local-disk', 'install', 'unknown']);
      // The daemon's first load of the same inventory changes nothing, so nothing is marked again.
      expect(await shared.syncInventoryInSlices(CLUSTER)).toEqual({ added: [], updated: [], removed: [] });
      expect(bootOf('52:54:00:00:01:01')).toBe('local-disk');
      // New events follow the copied ids.
      shared.appendEvent({ node: 'w3', kind: 'note', message: 'after the move' });
      expect(shared.events({ limit: 1 })[0]!.id).toBe(before.events.at(-1)!.id + 1);
    } finally {
      shared.close();
    }

    const again = await runCommand(storeMigrate, ['--from', `sqlite://${file}`, '--to', uri]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/the target is not empty \(.*nodes: 5 rows, events: \d+ rows, discovered: 2 rows\); --force replaces its rows/);

    // --force empties append-only events too (TRUNCATE), in the same transaction as the copy.
    const forced = await runCommand(storeMigrate, ['--from', `sqlite://${file}`, '--to', uri, '--force']);
    expect(forced.err).toBe('');
    expect(forced.out).toContain(`events: ${before.events.length} rows copied (${before.events.length + 1} replaced)`);
    const reopened = new PgStore(conninfo);
    try {
      expect(snapshot(reopened)).toEqual(before);
    } finally {
      reopened.close();
    }
  });
});
