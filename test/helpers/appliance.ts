// An in-process appliance for HTTP tests: a temp directory with the example
// inventory, an assets cache, a store and the real HTTP server.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadSettings, type Settings } from '../../src/settings/settings.js';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { InventoryWatcher } from '../../src/inventory/watch.js';
import { buildAdminServer, buildBootServer } from '../../src/http/server.js';
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../../src/http/context.js';
import { schematicId } from '../../src/factory/schematic.js';
import { FakeNeighbours } from '../../src/net/neighbours.js';

/** The admin token test appliances use; the admin plane needs it (or a session). */
export const TEST_ADMIN_TOKEN = 'appliance-test-admin-token';
export const ADMIN_HEADERS = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/**
 * Writes what the appliance's Lifecycle was shown (sightings) now: the daemon writes them on a later turn,
 * at most one commit per SIGHTING_COMMIT_GAP_MS, so a test that waited a turn could still find them unwritten.
 */
export const writeSightings = (a: { lifecycle: Lifecycle }): void => a.lifecycle.writeSightings();

export interface TestAppliance {
  dir: string;
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  watcher: InventoryWatcher;
  /** The provisioning L2 as the boot routes see it: each inventory node at its address. */
  neighbours: FakeNeighbours;
  ctx: HttpContext;
  /** The boot plane: the machines' public routes. */
  app: FastifyInstance;
  /** The admin plane (plain HTTP in process; the daemon serves it over TLS). */
  admin: FastifyInstance;
  /** Directory where the example inventory's boot assets live. */
  assetDir: string;
  close(): Promise<void>;
}

/**
 * `openStore`: the store at the appliance's SQLite path (default the SQLite Store; a SharedStore puts nodes and events in PostgreSQL, as `store: postgres://…` does).
 * `parent`: where its directory (store, assets, files) is made; the system's temporary directory by default.
 */
export async function testAppliance(opts: { withAssets?: boolean; publicUrl?: string; openStore?: (file: string) => Store; parent?: string } = {}): Promise<TestAppliance> {
  const dir = mkdtempSync(join(opts.parent ?? tmpdir(), 'rb-app-'));
  const inventory = join(dir, 'cluster.yaml');
  copyFileSync(new URL('../../inventory/cluster.yaml', import.meta.url), inventory);
  const settingsFile = join(dir, 'rackboot.yaml');
  writeFileSync(settingsFile, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\nadminToken: ${TEST_ADMIN_TOKEN}\n`);
  const settings = loadSettings({ config: settingsFile, inventory });
  const store = (opts.openStore ?? ((file) => new Store(file)))(join(settings.dataDir, 'rackboot.db'));
  const log = pino({ level: 'silent' });
  // The daemon's setting (src/daemon.ts): sightings are written after the turn that answered them.
  const lifecycle = new Lifecycle(store, { sightingsLater: true });
  const watcher = new InventoryWatcher(inventory, store, log);
  watcher.reload();
  const inv = watcher.inventory!;
  const assetDir = join(settings.assetsDir, schematicId(inv.cluster.schematic), inv.cluster.talosVersion);
  if (opts.withAssets !== false) {
    mkdirSync(assetDir, { recursive: true });
    writeFileSync(join(assetDir, 'kernel-amd64'), Buffer.alloc(100_000, 7));
    writeFileSync(join(assetDir, 'initramfs-amd64.xz'), Buffer.from(Array.from({ length: 65_536 }, (_, i) => i % 251)));
  }
  const neighbours = new FakeNeighbours(Object.fromEntries(inv.nodes.filter((n) => n.ip).map((n) => [n.ip!, n.mac])));
  const ctx: HttpContext = {
    settings, store, lifecycle, log,
    publicUrl: opts.publicUrl ?? 'http://10.77.0.1:8080',
    inventory: () => watcher.inventory,
    inventoryStatus: () => watcher.status,
    requesterIdentity: neighbours,
  };
  const app = buildBootServer(ctx);
  const admin = buildAdminServer(ctx);
  await app.ready();
  await admin.ready();
  return {
    dir, settings, store, lifecycle, watcher, neighbours, ctx, app, admin, assetDir,
    async close() {
      watcher.stop();
      await app.close();
      await admin.close();
      lifecycle.writeSightings();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
