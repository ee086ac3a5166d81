// An in-process appliance for web and API tests: a temp settings file,
// inventory, data and assets directories, the real store, inventory watcher
// and both HTTP planes. Nothing listens unless a test calls listen().
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadSettings, type Settings } from '../../../src/settings/settings.js';
import { Store } from '../../../src/store/store.js';
import { InventoryWatcher } from '../../../src/inventory/watch.js';
import { Lifecycle } from '../../../src/lifecycle/lifecycle.js';
import { buildAdminServer, buildBootServer, type AdminTls } from '../../../src/http/server.js';
import type { FailureBudget } from '../../../src/http/admin/failure-budget.js';
import type { HttpContext } from '../../../src/http/context.js';
import { ConsoleLog } from '../../../src/console/buffer.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function inventoryYaml(extraNodes = ''): string {
  return `cluster:
  name: lab
  controlPlaneEndpoint: https://10.0.0.10:6443
  talosVersion: v1.11.5
nodes:
  - name: cp-1
    mac: 52:54:00:00:00:01
    role: controlplane
    ip: 10.0.0.11
  - name: w-1
    mac: 52:54:00:00:00:02
    role: worker
${extraNodes}`;
}

export interface Harness {
  dir: string;
  settings: Settings;
  store: Store;
  watcher: InventoryWatcher;
  ctx: HttpContext;
  /** The admin plane. */
  app: FastifyInstance;
  /** The boot plane. */
  boot: FastifyInstance;
  announced: string[];
  /** Stops everything; keepDir leaves the data directory for a second harness to start on. */
  close(opts?: { keepDir?: boolean }): Promise<void>;
}

export async function harness(opts: {
  token?: string | null; anonymousRead?: boolean; dir?: string; watch?: boolean; tls?: AdminTls; budget?: FailureBudget;
  /** Opens the store on the data directory's file (default: SQLite alone; a SharedStore for scaleOut.postgres). */
  openStore?: (file: string) => Store;
} = {}): Promise<Harness> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rackboot-web-'));
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  writeFileSync(join(dir, 'cluster.yaml'), inventoryYaml());
  writeFileSync(
    join(dir, 'rackboot.yaml'),
    `dataDir: ./data\ninventory: ./cluster.yaml\nassetsDir: ./assets\n${token ? `adminToken: ${token}\n` : ''}http:\n  allowAnonymousRead: ${opts.anonymousRead ?? false}\n`,
  );
  const settings = loadSettings({ config: join(dir, 'rackboot.yaml') });
  const log = pino({ level: 'silent' });
  const store = (opts.openStore ?? ((file) => new Store(file)))(join(settings.dataDir, 'rackboot.db'));
  const watcher = new InventoryWatcher(settings.inventory, store, log, { debounceMs: 50, pollMs: 100 });
  watcher.reload();
  if (opts.watch) watcher.start();
  const announced: string[] = [];
  const ctx: HttpContext = {
    settings, store, lifecycle: new Lifecycle(store), log, publicUrl: 'http://10.0.0.1:8080',
    inventory: () => watcher.inventory, inventoryStatus: () => watcher.status,
    console: new ConsoleLog(50), announce: (l) => announced.push(l),
  };
  const app = buildAdminServer(ctx, { tls: opts.tls, budget: opts.budget });
  const boot = buildBootServer(ctx);
  await app.ready();
  await boot.ready();
  return {
    dir, settings, store, watcher, ctx, app, boot, announced,
    async close(how = {}) {
      watcher.stop();
      await app.close();
      await boot.close();
      store.close();
      if (!opts.dir && !how.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Logs in with the admin token; returns the cookie header and the page's CSRF token. */
export async function login(app: FastifyInstance, token = ADMIN_TOKEN): Promise<{ cookie: string; csrf: string }> {
  const res = await app.inject({ method: 'POST', url: '/login', payload: `token=${encodeURIComponent(token)}&next=/ui`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (res.statusCode !== 303) throw new Error(`login failed: ${res.statusCode}`);
  const cookie = String(res.headers['set-cookie']).split(';')[0]!;
  const page = await app.inject({ url: '/ui', headers: { cookie } });
  const csrf = /<meta name="csrf-token" content="([^"]*)">/.exec(page.body)![1]!;
  return { cookie, csrf };
}

/** Inventory entries for `count` workers named rack-00001…, MACs 52:54:01:…, IPs in 10.1.0.0/16. */
export function rackNodes(count: number): string {
  let out = '';
  for (let i = 1; i <= count; i++) {
    const hex = i.toString(16).padStart(6, '0');
    out += `  - name: rack-${String(i).padStart(5, '0')}\n    mac: 52:54:01:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}\n    role: worker\n    ip: 10.1.${i >> 8}.${i & 255}\n`;
  }
  return out;
}

/** The actor events name for the one login session in the store: "session:" and the start of its id's hash. */
export function sessionActor(h: Pick<Harness, 'store'>): string {
  const rows = h.store.db.prepare('SELECT id_hash FROM admin_sessions').all() as { id_hash: string }[];
  if (rows.length !== 1) throw new Error(`expected one session, found ${rows.length}`);
  return `session:${rows[0]!.id_hash.slice(0, 8)}`;
}
