// Two appliances on one PostgreSQL store, each with its own inventory file
// and adminToken (src/store/pg/appliances.ts): a reload of a file another
// live appliance does not have is refused with the reason on the status
// (the shared nodes stay as they were), the same file anywhere loads, a
// stopped appliance stops counting, and doctor names what differs.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InventoryWatcher } from '../../../src/inventory/watch.js';
import { adminTokenFingerprint, APPLIANCE_LIVE_MS, ApplianceRegistry } from '../../../src/store/pg/appliances.js';
import { postgresFindings, type DbFinding } from '../../../src/store/pg/doctor-findings.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const tmp = tempDirs('rb-appl-');
const EXAMPLE = new URL('../../../inventory/cluster.yaml', import.meta.url);
const EXTRA = '  - name: extra-1\n    mac: 52:54:00:99:00:01\n    role: worker\n    installDisk: /dev/sda\n';
const quiet = pino({ level: 'silent' });
const by = (fs: DbFinding[], check: string) => fs.find((f) => f.check === check);

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());

interface App { store: SharedStore; registry: ApplianceRegistry; watcher: InventoryWatcher; file: string; close(): Promise<void> }

function appliance(conninfo: string, name: string, now: () => number = Date.now): App {
  const dir = tmp();
  const file = join(dir, 'cluster.yaml');
  copyFileSync(EXAMPLE, file);
  const store = new SharedStore(join(dir, 'rackboot.db'), conninfo);
  const registry = new ApplianceRegistry(conninfo, name, now);
  const watcher = new InventoryWatcher(file, store, quiet, { claims: registry });
  return { store, registry, watcher, file, async close() { watcher.stop(); await registry.close(); store.close(); } };
}

const names = (s: SharedStore) => s.listNodes().map((n) => n.name).sort();

describe('appliances on one database: inventory files', () => {
  it('a file another live appliance does not have is refused, on the status and by doctor; the same file anywhere then loads', async () => {
    const conninfo = pg.createDatabase('appl_inv');
    const a = appliance(conninfo, 'rack-a');
    const b = appliance(conninfo, 'rack-b');
    try {
      expect(await a.watcher.reloadInBackground()).toBe(true);
      const before = names(a.store);
      expect(before).not.toContain('extra-1');

      // B was given a file with one more node: refused, nothing of A's replaced.
      writeFileSync(b.file, readFileSync(EXAMPLE, 'utf8') + EXTRA);
      expect(await b.watcher.reloadInBackground()).toBe(false);
      expect(b.watcher.status.ok).toBe(false);
      expect(b.watcher.status.errors[0]!.message).toMatch(/^refused: another appliance on this database has a different inventory file: rack-a \(5 nodes, digest [0-9a-f]{12}, seen \d+ s ago\)/);
      expect(b.watcher.inventory).toBeUndefined();
      expect(names(a.store)).toEqual(before);
      const fs = await postgresFindings(conninfo);
      expect(by(fs, 'inventory files')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/rack-a: 5 nodes, digest \w+; rack-b: 6 nodes, digest \w+ \(refused\)/) });

      // A now refuses to go back and forth too: B's attempt is on record.
      expect(await a.watcher.reloadInBackground()).toBe(false);
      expect(a.watcher.status.errors[0]!.message).toContain('rack-b (6 nodes');
      // ...but keeps its last good inventory live.
      expect(a.watcher.inventory?.nodes).toHaveLength(5);

      // B's heartbeat finds the files still differ: no reload.
      let bReloads = 0;
      b.registry.whenFilesAgree(() => { bReloads++; void b.watcher.reloadInBackground(); });
      expect(await b.registry.retryRefused()).toBe(false);

      // The operator copies B's file to A: both agree, each loads it; B by itself, on its next heartbeat.
      copyFileSync(b.file, a.file);
      expect(await a.watcher.reloadInBackground()).toBe(true);
      expect(names(b.store)).toContain('extra-1');
      expect(await b.registry.retryRefused()).toBe(true);
      expect(bReloads).toBe(1);
      await vi.waitFor(() => expect(b.watcher.inventory?.nodes).toHaveLength(6), { timeout: 20_000 });
      expect(b.watcher.status.ok).toBe(true);
      // Once loaded, later heartbeats reload nothing.
      expect(await b.registry.retryRefused()).toBe(false);
      expect(bReloads).toBe(1);
      expect(by(await postgresFindings(conninfo), 'inventory files')).toMatchObject({ level: 'ok', detail: expect.stringContaining('6 nodes') });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('an appliance that stopped (no heartbeat for APPLIANCE_LIVE_MS) does not block another file', async () => {
    const conninfo = pg.createDatabase('appl_stale');
    const a = appliance(conninfo, 'rack-a');
    // B's clock is past A's last heartbeat plus the live window: A is gone as far as B can tell.
    const b = appliance(conninfo, 'rack-b', () => Date.now() + APPLIANCE_LIVE_MS + 1000);
    try {
      expect(await a.watcher.reloadInBackground()).toBe(true);
      writeFileSync(b.file, readFileSync(EXAMPLE, 'utf8') + EXTRA);
      expect(await b.watcher.reloadInBackground()).toBe(true);
      expect(names(b.store)).toContain('extra-1');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('appliances on one database: adminToken', () => {
  it('a start with another token (or none) is reported to the starter and by doctor, never the token or its fingerprint', async () => {
    const conninfo = pg.createDatabase('appl_token');
    const a = new ApplianceRegistry(conninfo, 'rack-a');
    const b = new ApplianceRegistry(conninfo, 'rack-b');
    const c = new ApplianceRegistry(conninfo, 'rack-c');
    // Migrated by the first store to open it, as in the daemon.
    new SharedStore(join(tmp(), 'x.db'), conninfo).close();
    try {
      expect(await a.announce('token-one')).toEqual([]);
      expect(await b.announce('token-one')).toEqual([]);
      expect(by(await postgresFindings(conninfo), 'adminToken')).toMatchObject({ level: 'ok' });

      const differ = await c.announce('token-two');
      expect(differ.map((r) => r.name)).toEqual(['rack-a', 'rack-b']);
      let finding = by(await postgresFindings(conninfo), 'adminToken')!;
      expect(finding).toMatchObject({ level: 'fail', detail: expect.stringContaining('rack-a, rack-b: token #1; rack-c: token #2'), fix: expect.stringContaining('same adminToken') });
      expect(JSON.stringify(finding)).not.toContain('token-one');
      expect(JSON.stringify(finding)).not.toContain(adminTokenFingerprint('token-one'));

      expect((await c.announce(undefined)).map((r) => r.name)).toEqual(['rack-a', 'rack-b']);
      finding = by(await postgresFindings(conninfo), 'adminToken')!;
      expect(finding.detail).toContain('rack-c: none');
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });
});
