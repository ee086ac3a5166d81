// The pull path with two appliances serving HTTP on one PostgreSQL store
// (scaleOut.postgres, a SharedStore each): a node that got its install
// script, and with it its boot token, from appliance A and fetches its
// config from B is served by B as A would serve it, and only once; the
// record of what it was served is seen from A.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../../src/log.js';
import { Lifecycle } from '../../../src/lifecycle/lifecycle.js';
import { buildBootServer } from '../../../src/http/server.js';
import { loadSettings } from '../../../src/settings/settings.js';
import { initSecrets } from '../../../src/talos/secrets.js';
import { loadInventoryFile } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { FakeNeighbours } from '../../../src/net/neighbours.js';
import { SharedStore } from '../../../src/store/pg/shared-store.js';
import { appliedConfigFor } from '../../../src/day2/applied.js';
import { configSha256 } from '../../../src/day2/redact.js';
import { recordHardware, recordInstallDisk } from '../../../src/store/hardware.js';
import type { HardwareFacts } from '../../../src/talos/hardware.js';
import { schematicId } from '../../../src/factory/schematic.js';
import { startPostgres, type PgRig } from '../../helpers/postgres.js';
import { tempDirs } from '../../helpers/tmp.js';

const W1 = '52:54:00:12:34:11';
const W1_IP = '10.77.0.21';
const tmp = tempDirs('rb-pull-shared-');

let pg: PgRig;
let dir: string;
let inv: Inventory;
beforeAll(async () => {
  pg = startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'rb-pull-shared-data-'));
  await initSecrets(join(dir, 'data'));
  const r = loadInventoryFile(new URL('../../../inventory/cluster.yaml', import.meta.url).pathname);
  if (!r.ok) throw new Error('example inventory invalid');
  inv = { ...r.inventory, nodes: r.inventory.nodes.map((n) => ({ ...n, configMode: 'pull' as const })) };
  // The boot assets are cached (the script names the kernel only then); their bytes do not matter here.
  const assets = join(loadSettings({ dataDir: join(dir, 'data') }, dir).assetsDir, schematicId(inv.cluster.schematic), inv.cluster.talosVersion);
  mkdirSync(assets, { recursive: true });
  for (const f of ['kernel-amd64', 'initramfs-amd64.xz']) writeFileSync(join(assets, f), 'x');
}, 60_000);
afterAll(() => {
  pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Appliance { store: SharedStore; app: FastifyInstance }
const opened: Appliance[] = [];
afterEach(async () => {
  for (const a of opened.splice(0)) {
    await a.app.close();
    a.store.close();
  }
});

/** An appliance: its own SQLite, the shared database, the same secrets (one cluster), the node at its address on the L2. */
function appliance(name: string, conninfo: string, inventory = inv): Appliance {
  const base = loadSettings({ dataDir: join(dir, 'data') }, dir);
  const settings = { ...base, dhcp: { ...base.dhcp, mode: 'proxy' as const, subnet: '10.77.0.0/24' } };
  const store = new SharedStore(join(tmp(), `${name}.db`), conninfo);
  store.syncInventory(inventory);
  const app = buildBootServer({
    settings, store, lifecycle: new Lifecycle(store), log: createLogger({ level: 'silent' }), publicUrl: 'http://10.77.0.1:8080',
    inventory: () => inventory, inventoryStatus: () => ({ ok: true, file: '', errors: [], loadedAt: 0, checkedAt: 0 }),
    requesterIdentity: new FakeNeighbours({ [W1_IP]: W1 }),
  });
  const a = { store, app };
  opened.push(a);
  return a;
}

const get = (a: Appliance, url: string) => a.app.inject({ method: 'GET', url, remoteAddress: W1_IP });
/** The /config URL (path and query) that `a`'s install script for worker-1 carries: this boot's token. */
async function installScriptConfigUrl(a: Appliance): Promise<string> {
  const script = await get(a, `/ipxe?mac=${W1}&arch=x86_64`);
  expect(script.statusCode).toBe(200);
  return / talos\.config=http:\/\/10\.77\.0\.1:8080(\S+)/.exec(script.body)![1]!;
}

describe('GET /config with two appliances on one shared store', () => {
  it('the token from A\'s install script opens B\'s /config once; neither serves it again; B serves what A serves', async () => {
    const conninfo = pg.createDatabase('pull_shared');
    const a = appliance('a', conninfo);
    const b = appliance('b', conninfo);
    a.store.setState('worker-1', 'booting', 'PXE boot (test)', { markedForInstall: true });

    const url = await installScriptConfigUrl(a);
    const fromB = await get(b, url);
    expect(fromB.statusCode).toBe(200);
    expect(fromB.body).toContain('hostname: worker-1');
    expect(a.store.getNode('worker-1')!.state).toBe('configuring');
    // The node config record is where the leader, whichever appliance it is, plans day 2 from.
    expect(appliedConfigFor(a.store, 'worker-1')).toMatchObject({ via: 'pull', sha256: configSha256(fromB.body) });
    // Once per boot, whichever appliance the second fetch reaches.
    expect((await get(a, url)).statusCode).toBe(403);
    expect((await get(b, url)).statusCode).toBe(403);
    expect(a.store.events({ node: 'worker-1' }).filter((e) => e.kind === 'config').at(-1)!.message)
      .toBe(`machine config refused: node worker-1: the config for this boot was already served to ${W1_IP}; a new fetch needs a new PXE boot`);

    // The next boot's script comes from B and its config from A: the same config as B served.
    a.store.setState('worker-1', 'booting', 'PXE boot again (test)', { markedForInstall: true });
    const next = await installScriptConfigUrl(b);
    const fromA = await get(a, next);
    expect(fromA.statusCode).toBe(200);
    expect(fromA.body).toBe(fromB.body);
    // The first boot's token died with the new script, on both.
    expect((await get(b, url)).statusCode).toBe(403);
  });

  it('a node whose install disk the leader resolved from its hardware is given that disk by the other appliance', async () => {
    const conninfo = pg.createDatabase('pull_disk');
    const bySelector = { ...inv, nodes: inv.nodes.map((n) => (n.name === 'worker-1' ? { ...n, installDisk: { transport: 'nvme' } } : n)) };
    const a = appliance('a', conninfo, bySelector);
    const b = appliance('b', conninfo, bySelector);
    // The leader (A) read the node's disks in maintenance mode and resolved the selector (first contact does both).
    const facts = { disks: [], processors: [], memory: [], links: [] } as unknown as HardwareFacts;
    recordHardware(a.store, { node: 'worker-1', mac: W1, endpoint: `${W1_IP}:50000`, readAt: Date.now(), facts });
    recordInstallDisk(a.store, 'worker-1', '/dev/nvme1n1', Date.now());
    a.store.setState('worker-1', 'booting', 'PXE boot (test)', { markedForInstall: true });
    const fromB = await get(b, await installScriptConfigUrl(a));
    expect(fromB.statusCode).toBe(200);
    expect(fromB.body).toContain('disk: /dev/nvme1n1');
  });
});
