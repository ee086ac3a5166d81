import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../../src/log.js';
import { Store } from '../../../src/store/store.js';
import { Lifecycle } from '../../../src/lifecycle/lifecycle.js';
import { buildBootServer } from '../../../src/http/server.js';
import { loadSettings, type Settings } from '../../../src/settings/settings.js';
import { initSecrets } from '../../../src/talos/secrets.js';
import { loadInventoryFile } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { FakeNeighbours } from '../../../src/net/neighbours.js';
import { issueBootToken } from '../../../src/store/boot-tokens.js';
import { appliedConfigFor } from '../../../src/day2/applied.js';
import { REDACTED, configSha256 } from '../../../src/day2/redact.js';

const CP1 = '52:54:00:12:34:01';
const W1 = '52:54:00:12:34:11';

describe('GET /config (pull)', () => {
  let dir: string;
  let inv: Inventory;
  let store: Store;
  let app: FastifyInstance;
  let logs: string[];
  let settings: Settings;
  let neighbours: FakeNeighbours;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-pull-'));
    await initSecrets(join(dir, 'data'));
    const r = loadInventoryFile(new URL('../../../inventory/cluster.yaml', import.meta.url).pathname);
    if (!r.ok) throw new Error('example inventory invalid');
    // Every node pulls here; one test turns cp-2 back to push.
    inv = { ...r.inventory, nodes: r.inventory.nodes.map((n) => ({ ...n, configMode: 'pull' as const })) };
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (mode: Settings['dhcp']['mode'], file = ':memory:') => {
    const base = loadSettings({ dataDir: join(dir, 'data') }, dir);
    settings = { ...base, dhcp: { ...base.dhcp, mode, subnet: '10.77.0.0/24' } };
    logs = [];
    const destination = new Writable({ write(chunk, _enc, cb) { logs.push(chunk.toString()); cb(); } });
    const log = createLogger({ level: 'debug', destination });
    store = new Store(file);
    store.syncInventory(inv);
    // The provisioning L2 as the kernel would show it: each node at its inventory address.
    neighbours = new FakeNeighbours({ '10.77.0.11': CP1, '10.77.0.21': W1 });
    app = buildBootServer({ settings, store, lifecycle: new Lifecycle(store), log, publicUrl: 'http://10.77.0.1:8080', inventory: () => inv, inventoryStatus: () => ({ ok: true, file: '', errors: [], loadedAt: 0, checkedAt: 0 }), requesterIdentity: neighbours });
  };
  const get = (query: string, remoteAddress = '10.77.0.11') => app.inject({ method: 'GET', url: `/config?${query}`, remoteAddress });
  /** What serving the install script to the machine does: a token for this boot. */
  const boot = (name: string, from = '10.77.0.11') => issueBootToken(store.db, store.getNode(name)!, from);
  const configEvents = (name: string) => store.events({ node: name }).filter((e) => e.kind === 'config').map((e) => e.message);
  const lease = (mac: string, ip: string, state = 'bound', expiresAt = Date.now() + 60_000) =>
    store.db.prepare('INSERT OR REPLACE INTO leases (mac, ip, state, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(mac, ip, state, expiresAt, Date.now());
  const refusalsLogged = () => logs.map((l) => JSON.parse(l)).filter((l) => String(l.msg).startsWith('machine config refused'));

  afterEach(async () => {
    await app.close();
    store.close();
  });

  describe('proxy DHCP mode (no leases of ours)', () => {
    beforeEach(() => build('proxy'));

    it('unknown MAC: 404, reason in the log only', async () => {
      const r = await get('mac=52:54:00:99:99:99');
      expect(r.statusCode).toBe(404);
      expect(r.body).toBe('not found\n');
      expect(refusalsLogged()[0]).toMatchObject({ msg: 'machine config refused: unknown MAC 52:54:00:99:99:99', status: 404 });
    });

    it('not a MAC: 400', async () => {
      expect((await get('mac=zz')).statusCode).toBe(400);
      expect((await get('')).statusCode).toBe(400);
    });

    it('outside the provisioning window (registered, never booted): 403', async () => {
      const r = await get(`mac=${CP1}`);
      expect(r.statusCode).toBe(403);
      expect(r.body).toBe('forbidden\n');
      expect(refusalsLogged()[0].msg).toContain('outside its provisioning window (state registered');
      expect(store.getNode('cp-1')!.state).toBe('registered');
    });

    it('after install (not marked any more): 403', async () => {
      store.setState('cp-1', 'installed', 'test', { markedForInstall: false });
      expect((await get(`mac=${CP1}`)).statusCode).toBe(403);
      expect(refusalsLogged()[0].msg).toContain('not marked for install');
    });

    it('in the window, from the machine, with this boot\'s token: 200 with its own config, and the node moves to configuring', async () => {
      store.setState('worker-1', 'booting', 'test');
      const token = boot('worker-1', '10.77.0.21');
      const r = await get(`mac=${W1.replaceAll(':', '-')}&uuid=00000000-0000-0000-0000-000000000000&token=${token}`, '10.77.0.21');
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/yaml; charset=utf-8');
      const doc = parseAllDocuments(r.body)[0]!.toJS();
      expect(doc.machine.network.hostname).toBe('worker-1');
      expect(doc.machine.type).toBe('worker');
      const node = store.getNode('worker-1')!;
      expect(node.state).toBe('configuring');
      expect(store.events({ node: 'worker-1' }).at(-1)!.message).toBe('booting → configuring: machine config served over HTTP to 10.77.0.21');
      // day2-config: the served config is what the node applies; its hash is recorded, and a copy without its secrets.
      const applied = appliedConfigFor(store, 'worker-1')!;
      expect(applied).toMatchObject({ via: 'pull', sha256: configSha256(r.body) });
      expect(applied.redacted).toContain(`token: ${REDACTED}`);
      expect(applied.redacted).not.toContain(doc.machine.token);
    });

    it('once per boot: a second fetch with the same token is refused, even from the machine; a new boot serves again', async () => {
      store.setState('worker-1', 'booting', 'test');
      const token = boot('worker-1', '10.77.0.21');
      expect((await get(`mac=${W1}&token=${token}`, '10.77.0.21')).statusCode).toBe(200);
      const again = await get(`mac=${W1}&token=${token}`, '10.77.0.21');
      expect(again.statusCode).toBe(403);
      expect(again.body).toBe('forbidden\n');
      expect(configEvents('worker-1').at(-1)).toBe('machine config refused: node worker-1: the config for this boot was already served to 10.77.0.21; a new fetch needs a new PXE boot');
      expect(store.getNode('worker-1')!.state).toBe('configuring');
      // The machine PXE-boots again: its new install script carries a new token, and the old one is dead.
      const next = boot('worker-1', '10.77.0.21');
      expect((await get(`mac=${W1}&token=${token}`, '10.77.0.21')).statusCode).toBe(403);
      expect(configEvents('worker-1').at(-1)).toContain('is not the one issued for its current boot');
      expect((await get(`mac=${W1}&token=${next}`, '10.77.0.21')).statusCode).toBe(200);
    });

    it('without a token, or with a made-up one: 403 with the reason as an event', async () => {
      store.setState('cp-1', 'booting', 'test');
      expect((await get(`mac=${CP1}&token=${'0'.repeat(32)}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('no boot token was issued');
      boot('cp-1');
      expect((await get(`mac=${CP1}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('no boot token (the talos.config= URL');
      expect((await get(`mac=${CP1}&token=${'0'.repeat(32)}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('is not the one issued');
      expect(store.getNode('cp-1')!.state).toBe('booting');
    });

    it('another host on the L2 (its neighbour entry carries another MAC) is refused even with the real token, which stays good for the machine', async () => {
      store.setState('cp-1', 'booting', 'test');
      const token = boot('cp-1');
      neighbours.set('10.77.0.99', '52:54:00:99:99:99');
      const r = await get(`mac=${CP1}&token=${token}`, '10.77.0.99');
      expect(r.statusCode).toBe(403);
      expect(r.body).not.toContain('machine');
      expect(configEvents('cp-1').at(-1)).toBe(`machine config refused: request from 10.77.0.99, whose neighbour entry carries 52:54:00:99:99:99, not cp-1's ${CP1}`);
      expect(store.getNode('cp-1')!.state).toBe('booting');
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(200);
    });

    it('a routed request (no neighbour entry) gets the config only with the boot token', async () => {
      store.setState('cp-1', 'booting', 'test');
      const token = boot('cp-1');
      expect((await get(`mac=${CP1}`, '10.99.0.5')).statusCode).toBe(403);
      expect((await get(`mac=${CP1}&token=${token}`, '10.99.0.5')).statusCode).toBe(200);
    });

    it('a push-mode node never gets its config here', async () => {
      store.syncInventory({ ...inv, nodes: inv.nodes.map((n) => (n.name === 'cp-1' ? { ...n, configMode: 'push' as const } : n)) });
      store.setState('cp-1', 'booting', 'test');
      const token = boot('cp-1');
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('push mode');
    });

    it('a uuid that contradicts the inventory: 403', async () => {
      const withUuid = { ...inv, nodes: inv.nodes.map((n) => (n.name === 'cp-1' ? { ...n, uuid: '11223344-5566-7788-99aa-bbccddeeff01' } : n)) };
      store.syncInventory(withUuid);
      store.setState('cp-1', 'booting', 'test');
      const token = boot('cp-1');
      expect((await get(`mac=${CP1}&uuid=11223344-5566-7788-99aa-bbccddeeff02&token=${token}`)).statusCode).toBe(403);
      expect(refusalsLogged()[0].msg).toContain('does not match');
      expect((await get(`mac=${CP1}&uuid=11223344-5566-7788-99aa-bbccddeeff01&token=${token}`)).statusCode).toBe(200);
    });
  });

  describe('full DHCP mode: only the leased address gets it', () => {
    let token: string;
    beforeEach(() => {
      build('full');
      store.setState('cp-1', 'booting', 'test');
      token = boot('cp-1');
    });

    it('no lease: 403', async () => {
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
      expect(refusalsLogged()[0].msg).toContain('holds no bound lease');
    });

    it('wrong source IP (another machine asking with cp-1\'s MAC): 403, never the config', async () => {
      lease(CP1, '10.77.0.11');
      const r = await get(`mac=${CP1}&token=${token}`, '10.77.0.99');
      expect(r.statusCode).toBe(403);
      expect(r.body).not.toContain('machine');
      expect(refusalsLogged()[0].msg).toBe(`machine config refused: request from 10.77.0.99, but ${CP1} is leased 10.77.0.11`);
      expect(store.getNode('cp-1')!.state).toBe('booting');
    });

    it('expired or released lease: 403', async () => {
      lease(CP1, '10.77.0.11', 'bound', Date.now() - 1);
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
      lease(CP1, '10.77.0.11', 'released');
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
    });

    it('the leased address, also as an IPv4-mapped IPv6 peer: 200', async () => {
      lease(CP1, '10.77.0.11');
      const r = await get(`mac=${CP1}&token=${token}`, '::ffff:10.77.0.11');
      expect(r.statusCode).toBe(200);
      expect(parseAllDocuments(r.body)[0]!.toJS().machine.network.hostname).toBe('cp-1');
    });

    it('a host that takes over the leased address after the node fetched is refused: another MAC, or the spent token', async () => {
      lease(CP1, '10.77.0.11');
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(200);
      neighbours.set('10.77.0.11', '52:54:00:99:99:99');
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('whose neighbour entry carries 52:54:00:99:99:99');
      // Even with the node's MAC spoofed as well, the boot's token is spent.
      neighbours.set('10.77.0.11', CP1);
      expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
      expect(configEvents('cp-1').at(-1)).toContain('already served to 10.77.0.11');
    });
  });

  it('a spent token stays spent across a restart (it lives in the store)', async () => {
    const file = join(dir, 'restart.db');
    build('proxy', file);
    store.setState('cp-1', 'booting', 'test');
    const token = boot('cp-1');
    expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(200);
    await app.close();
    store.close();
    build('proxy', file);
    store.setState('cp-1', 'booting', 'test: rebooted before Talos came up, but no new install script');
    expect((await get(`mac=${CP1}&token=${token}`)).statusCode).toBe(403);
    expect(configEvents('cp-1').at(-1)).toContain('already served');
  });
});
