// The daemon's start on a shared PostgreSQL store (issue 21, operations):
// the first load of a 5,000-node inventory takes the sliced path, so the
// event loop keeps turning while it is stored; a MAC no node lists is
// answered from memory; and a second appliance started with another
// adminToken says so in its log.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDaemon } from '../src/daemon.js';
import { loadSettings } from '../src/settings/settings.js';
import { PgStore } from '../src/store/pg/pg-store.js';
import { SharedStore } from '../src/store/pg/shared-store.js';
import { bigInventoryYaml } from './helpers/big-inventory.js';
import { startPostgres, type PgRig } from './helpers/postgres.js';

let pg: PgRig;
beforeAll(() => { pg = startPostgres(); });
afterAll(() => pg?.stop());
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

function site(conninfo: string, inventory: string, adminToken: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rb-pgstart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cluster.yaml'), inventory);
  writeFileSync(join(dir, 'rackboot.yaml'), `dataDir: ./data\ninventory: ./cluster.yaml\nlogLevel: warn\nadminToken: ${adminToken}\nstore: "${conninfo}"
dhcp:\n  mode: off\ntftp:\n  enabled: false\nconsole:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  publicUrl: http://127.0.0.1:1\n`);
  return join(dir, 'rackboot.yaml');
}

describe('rackboot serve on PostgreSQL: start', () => {
  it('stores a 5,000-node inventory in slices at start (never the one-shot load that holds the loop)', async () => {
    const conninfo = pg.createDatabase('start_big');
    const oneShot = vi.spyOn(SharedStore.prototype, 'syncInventory');
    const sliced = vi.spyOn(SharedStore.prototype, 'syncInventoryInSlices');
    // Liveness only: a timer keeps firing while the daemon starts.
    let ticks = 0;
    const tick = setInterval(() => ticks++, 5);
    const daemon = await startDaemon(loadSettings({ config: site(conninfo, bigInventoryYaml(5000), 'token-one-0123456789') }), pino({ level: 'silent' }));
    clearInterval(tick);
    cleanups.push(() => daemon.close());
    expect(daemon.watcher.inventory?.nodes.length).toBeGreaterThan(5000);
    expect(daemon.store.listNodes().length).toBe(daemon.watcher.inventory!.nodes.length);
    expect(oneShot).not.toHaveBeenCalled();
    expect(sliced).toHaveBeenCalledTimes(1);
    expect(ticks).toBeGreaterThan(0);
  });

  it('answers a MAC no inventory node lists from memory once started (no statement on the loop)', async () => {
    const conninfo = pg.createDatabase('start_macs');
    const statements = vi.spyOn(PgStore.prototype as unknown as { q: () => unknown[] }, 'q');
    const daemon = await startDaemon(loadSettings({ config: site(conninfo, bigInventoryYaml(2), 'token-one-0123456789') }), pino({ level: 'silent' }));
    cleanups.push(() => daemon.close());
    const known = daemon.watcher.inventory!.nodes.at(-1)!;
    const before = statements.mock.calls.length;
    expect(daemon.store.nodeByMac('52:54:00:de:ad:01')).toBeUndefined();
    expect(statements.mock.calls.length).toBe(before);
    expect(daemon.store.nodeByMac(known.mac)?.name).toBe(known.name);
    expect(statements.mock.calls.length).toBeGreaterThan(before);
  });

  it('a second appliance with another adminToken logs it; doctor-level detail is in appliances.test.ts', async () => {
    const conninfo = pg.createDatabase('start_token');
    const small = bigInventoryYaml(0);
    const first = await startDaemon(loadSettings({ config: site(conninfo, small, 'token-one-0123456789') }), pino({ level: 'silent' }));
    cleanups.push(() => first.close());
    const lines: string[] = [];
    const second = await startDaemon(loadSettings({ config: site(conninfo, small, 'token-two-0123456789') }), pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }));
    cleanups.push(() => second.close());
    const said = lines.map((l) => JSON.parse(l) as { msg: string; others?: string[] }).find((l) => l.msg.includes('different adminToken'));
    expect(said?.others).toHaveLength(1);
    expect(lines.join('')).not.toContain('token-one-0123456789');
    expect(lines.join('')).not.toContain('token-two-0123456789');
    // The same file on both: the second loaded it.
    expect(second.watcher.status.ok).toBe(true);
  });
});
