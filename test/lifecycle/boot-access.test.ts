// The boot-access policy with a fake neighbour table: who may have a node's
// iPXE script and its machine config, and that a config goes out once per boot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { BootAccess, peerAddress } from '../../src/lifecycle/boot-access.js';
import { FakeNeighbours } from '../../src/net/neighbours.js';
import type { DhcpMode } from '../../src/settings/settings.js';
import { inventory, nodeSpec } from './fixtures.js';

const PULL = '52:54:00:00:00:01';
const PUSH = '52:54:00:00:00:02';
const OTHER = '52:54:00:99:99:99';

describe('boot access', () => {
  let store: Store;
  let neighbours: FakeNeighbours;
  let mode: DhcpMode;
  let access: BootAccess;
  const node = (name = 'pull-1') => store.getNode(name)!;
  const events = (name = 'pull-1') => store.events({ node: name }).map((e) => e.message);
  const lease = (mac: string, ip: string) =>
    store.db.prepare("INSERT OR REPLACE INTO leases (mac, ip, state, expires_at, updated_at) VALUES (?, ?, 'bound', ?, ?)").run(mac, ip, Date.now() + 60_000, Date.now());

  const open = (file = ':memory:') => {
    store = new Store(file);
    store.syncInventory(inventory([nodeSpec('pull-1', PULL, 'worker', { configMode: 'pull' }), nodeSpec('push-1', PUSH)]));
    access = new BootAccess({ store, lifecycle: new Lifecycle(store), dhcpMode: () => mode, identity: () => neighbours });
  };
  beforeEach(() => {
    mode = 'proxy';
    neighbours = new FakeNeighbours({ '10.0.0.21': PULL, '10.0.0.22': PUSH, '10.0.0.99': OTHER });
    open();
    store.setState('pull-1', 'booting', 'test');
  });
  afterEach(() => store.close());

  describe('who is the machine', () => {
    it('proxy/off: the neighbour entry must carry the node\'s MAC; no entry means routed', () => {
      for (const m of ['proxy', 'off'] as const) {
        mode = m;
        expect(access.identify(node(), '10.0.0.21')).toEqual({ ok: true, how: 'neighbour' });
        expect(access.identify(node(), '10.0.0.99')).toEqual({ ok: false, reason: `request from 10.0.0.99, whose neighbour entry carries ${OTHER}, not pull-1's ${PULL}` });
        expect(access.identify(node(), '192.168.5.5')).toEqual({ ok: true, how: 'routed' });
      }
    });

    it('full: the address holding the MAC\'s bound lease, and a neighbour entry with another MAC still refuses', () => {
      mode = 'full';
      expect(access.identify(node(), '10.0.0.21')).toMatchObject({ ok: false, reason: expect.stringContaining('holds no bound lease') });
      lease(PULL, '10.0.0.21');
      expect(access.identify(node(), '10.0.0.21')).toEqual({ ok: true, how: 'lease' });
      expect(access.identify(node(), '10.0.0.23')).toMatchObject({ ok: false, reason: `request from 10.0.0.23, but ${PULL} is leased 10.0.0.21` });
      // A relayed client: no neighbour entry, but it holds the lease.
      lease(PULL, '10.9.0.5');
      expect(access.identify(node(), '10.9.0.5')).toEqual({ ok: true, how: 'lease' });
      // A host on our L2 that took the leased address with its own MAC.
      lease(PULL, '10.0.0.99');
      expect(access.identify(node(), '10.0.0.99').ok).toBe(false);
    });

    it('IPv4-mapped peers are compared as IPv4', () => {
      expect(peerAddress('::ffff:10.0.0.21')).toBe('10.0.0.21');
      expect(peerAddress('fe80::1')).toBe('fe80::1');
    });
  });

  describe('the iPXE script', () => {
    it('goes to the machine; a stranger or a routed address is refused with an event', () => {
      expect(access.scriptRefusal(node(), '10.0.0.21')).toBeUndefined();
      expect(access.scriptRefusal(node(), '10.0.0.99')).toContain(`carries ${OTHER}`);
      expect(access.scriptRefusal(node(), '192.168.5.5')).toContain('a routed address cannot be tied to pull-1');
      expect(events().filter((m) => m.startsWith('iPXE script refused'))).toHaveLength(2);
    });

    it('full mode: a routed address holding the lease gets it', () => {
      mode = 'full';
      lease(PULL, '10.9.0.5');
      expect(access.scriptRefusal(node(), '10.9.0.5')).toBeUndefined();
    });
  });

  describe('the machine config', () => {
    it('once per boot: the token is spent by the first fetch, and a new boot issues a new one', () => {
      const token = access.issueToken(node(), '10.0.0.21');
      expect(token).toMatch(/^[0-9a-f]{32}$/);
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toBeUndefined();
      expect(access.spend(node(), token, '10.0.0.21')).toBe(true);
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toBe('node pull-1: the config for this boot was already served to 10.0.0.21; a new fetch needs a new PXE boot');
      expect(access.spend(node(), token, '10.0.0.21')).toBe(false);
      const next = access.issueToken(node(), '10.0.0.21');
      expect(next).not.toBe(token);
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toContain('is not the one issued for its current boot');
      expect(access.configRefusal(node(), '10.0.0.21', { token: next })).toBeUndefined();
    });

    it('refuses a stranger on the L2 even with the token, and a routed peer without it', () => {
      const token = access.issueToken(node(), '10.0.0.21');
      expect(access.configRefusal(node(), '10.0.0.99', { token })).toContain(`carries ${OTHER}`);
      expect(access.configRefusal(node(), '192.168.5.5', {})).toContain('no boot token');
      expect(access.configRefusal(node(), '192.168.5.5', { token })).toBeUndefined();
    });

    it('refuses outside the window, push-mode nodes and a contradicting uuid; every refusal is an event', () => {
      const before = events().length;
      store.setState('pull-1', 'installed', 'test', { markedForInstall: false });
      const token = access.issueToken(node(), '10.0.0.21');
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toContain('outside its provisioning window');
      store.setState('push-1', 'booting', 'test');
      const pushToken = access.issueToken(node('push-1'), '10.0.0.22');
      expect(access.configRefusal(node('push-1'), '10.0.0.22', { token: pushToken })).toContain('push mode');
      const configRefusals = [...events(), ...events('push-1')].filter((m) => m.startsWith('machine config refused'));
      expect(configRefusals).toHaveLength(2);
      expect(events().length).toBeGreaterThan(before);
    });

    it('a token issued before a MAC change does not open the config for the new MAC', () => {
      const token = access.issueToken(node(), '10.0.0.21');
      store.syncInventory(inventory([nodeSpec('pull-1', '52:54:00:00:00:03', 'worker', { configMode: 'pull' }), nodeSpec('push-1', PUSH)]));
      neighbours.set('10.0.0.21', '52:54:00:00:00:03');
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toContain('no boot token was issued for its current MAC');
    });
  });

  it('a spent token stays spent after a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-access-'));
    try {
      store.close();
      open(join(dir, 'rb.db'));
      store.setState('pull-1', 'booting', 'test');
      const token = access.issueToken(node(), '10.0.0.21');
      expect(access.spend(node(), token, '10.0.0.21')).toBe(true);
      store.close();
      open(join(dir, 'rb.db'));
      expect(access.configRefusal(node(), '10.0.0.21', { token })).toContain('already served');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
